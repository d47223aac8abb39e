"""pytest plugin: the `k8s` session fixture (a real Kubernetes API) and the `namespace` fixture.

Why: the operator, the chart, the CLI and the runtime's discovery are tested against a real
Kubernetes control plane (docs/design.md section 6, tier 3), started here from the binaries that
hack/k8s/build.sh builds from the Go modules, or, when asked, an existing cluster:

- ``AUTONOMY_TEST_KUBECONFIG=/path/to/kubeconfig``: use that cluster (its current context);
- ``AUTONOMY_TEST_USE_CURRENT_CONTEXT=1``: use ``$KUBECONFIG`` (or ~/.kube/config), e.g. a kind cluster.

Under CI (``CI=true``) the control-plane tests never skip: a control plane that cannot start fails
them. Elsewhere, on a machine without Go, they skip with a one-line reason.

Registered from tests/conftest.py (`pytest_plugins = ["tests.k8s_fixtures"]`), so any test directory
can request `k8s`, `namespace` and `k8s_binaries`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTROLPLANE_PY = REPO / "hack" / "k8s" / "controlplane.py"
REALNODE_PY = REPO / "hack" / "k8s" / "realnode.py"
REALNODE_SETUP = REPO / "hack" / "k8s" / "realnode-setup.sh"
FAKE_NODES = 2


def _load_controlplane(name: str = "autonomy_hack_k8s_controlplane", path: Path = CONTROLPLANE_PY) -> ModuleType:
    """hack/k8s/controlplane.py is a contributor script, not a package: load it by path, once."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


controlplane = _load_controlplane()


class CommandFailed(subprocess.CalledProcessError):
    """A kubectl/helm call that failed; unlike its base, its message carries the command's stderr."""

    def __str__(self) -> str:
        return (
            f"`{' '.join(map(str, self.cmd))}` exited with {self.returncode}:\n"
            f"{(self.stderr or '').strip()}\n{(self.output or '').strip()}"
        ).strip()


@dataclass(frozen=True)
class KubernetesCluster:
    """What a test needs to talk to the cluster: paths, the environment, and kubectl/helm runners."""

    kubeconfig: Path
    server: str
    env: dict[str, str]
    kubectl_bin: str
    helm_bin: str
    # The kwok-simulated nodes of the suite's own control plane; empty on an existing cluster.
    fake_nodes: tuple[str, ...] = field(default=())
    kubernetes_version: str = ""

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return self._run([self.kubectl_bin, *args], input=input, check=check, timeout=timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self._run([self.helm_bin, *args], input=None, check=check, timeout=timeout)

    def _run(
        self, argv: list[str], *, input: str | None, check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, env=self.env, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise CommandFailed(result.returncode, argv, result.stdout, result.stderr)
        return result


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere: CI must never pass by skipping the control-plane tests."""
    if _in_ci():
        pytest.fail(f"control plane unavailable under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _existing_kubeconfig() -> Path | None:
    explicit = os.environ.get("AUTONOMY_TEST_KUBECONFIG")
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get("AUTONOMY_TEST_USE_CURRENT_CONTEXT", "").strip().lower() in ("1", "true", "yes"):
        first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        return Path(first or "~/.kube/config").expanduser().resolve()
    return None


def _helm_for_existing_cluster() -> str:
    cached = controlplane.cache_root() / f"helm-{controlplane.read_versions()['HELM_VERSION']}" / "helm"
    if os.access(cached, os.X_OK):
        return str(cached)
    found = shutil.which("helm")
    if found is None:
        pytest.fail("no helm: run hack/k8s/build.sh (builds it) or put helm on PATH", pytrace=False)
    return found


def _cluster_env(kubeconfig: Path, kube_cache: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["KUBECONFIG"] = str(kubeconfig)
    if kube_cache is not None:  # discovery caches of throwaway clusters stay out of ~/.kube/cache
        env["KUBECACHEDIR"] = str(kube_cache)
    return env


def _use_existing(kubeconfig: Path) -> KubernetesCluster:
    if not kubeconfig.is_file():
        pytest.fail(
            f"AUTONOMY_TEST_KUBECONFIG / KUBECONFIG points at {kubeconfig}, which does not exist", pytrace=False
        )
    kubectl = str(controlplane.find_kubectl())
    env = _cluster_env(kubeconfig)
    view = subprocess.run(
        [kubectl, "config", "view", "--minify", "-o", "json"], capture_output=True, text=True, env=env, check=False
    )
    if view.returncode != 0:
        pytest.fail(f"cannot read {kubeconfig}: {view.stderr.strip()}", pytrace=False)
    server = json.loads(view.stdout)["clusters"][0]["cluster"]["server"]
    cluster = KubernetesCluster(
        kubeconfig=kubeconfig, server=server, env=env, kubectl_bin=kubectl, helm_bin=_helm_for_existing_cluster()
    )
    probe = cluster.kubectl("get", "--raw", "/readyz", check=False, timeout=30)
    if probe.returncode != 0:
        pytest.fail(f"the cluster of {kubeconfig} ({server}) is not ready: {probe.stderr.strip()}", pytrace=False)
    return cluster


def _binaries(request: pytest.FixtureRequest) -> Any:
    """The cached binaries (built, if need be, right after collection: see pytest_collection_modifyitems)."""
    try:
        return controlplane.Binaries.from_cache()
    except controlplane.BinariesMissing as missing:
        if shutil.which("go") is None:
            _unavailable("no Go toolchain to build the Kubernetes control plane (see hack/k8s/README.md)")
        pytest.fail(request.config.stash.get(_BUILD_ERROR_KEY, str(missing)), pytrace=False)
    except controlplane.ControlPlaneError as error:
        pytest.fail(str(error), pytrace=False)


def _build_if_needed(config: pytest.Config) -> None:
    """Build the binaries before the first test, outside any test's timeout, showing build.sh's progress."""
    try:
        controlplane.Binaries.from_cache()
        return
    except controlplane.ControlPlaneError:
        if shutil.which("go") is None:
            return  # the fixtures skip (or fail under CI) with the reason
    capture = config.pluginmanager.getplugin("capturemanager")
    guard = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
    try:
        with guard:
            controlplane.build_binaries()
    except controlplane.ControlPlaneError as error:
        config.stash[_BUILD_ERROR_KEY] = str(error)


def _start_plane(binaries: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A started ControlPlane; tried twice, as another process may take a port picked as free."""
    errors = []
    for _attempt in range(2):
        plane = controlplane.ControlPlane(workdir=tmp_path_factory.mktemp("k8s"), binaries=binaries, nodes=FAKE_NODES)
        # Teardown also on paths pytest's finalizers miss (sys.exit from a signal handler, say);
        # a SIGKILLed pytest is covered by the children's parent-death signal.
        atexit.register(plane.stop)
        try:
            plane.start()  # stops whatever it started when it fails
        except controlplane.ControlPlaneError as error:
            atexit.unregister(plane.stop)
            errors.append(str(error))
            continue
        return plane
    pytest.fail("the control plane did not start: " + "\n(retry) ".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def k8s(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesCluster]:
    """A real Kubernetes API for the whole session: our own control plane, or an existing cluster."""
    existing = _existing_kubeconfig()
    if existing is not None:
        yield _use_existing(existing)
        return

    binaries = _binaries(request)
    with _sigterm_as_interrupt():
        started = time.monotonic()
        plane = _start_plane(binaries, tmp_path_factory)
        request.config.stash[_STARTUP_KEY] = time.monotonic() - started
        try:
            yield _cluster_of(plane, binaries)
        finally:
            plane.stop()
            atexit.unregister(plane.stop)


def _cluster_of(plane: Any, binaries: Any) -> KubernetesCluster:
    return KubernetesCluster(
        kubeconfig=plane.kubeconfig,
        server=plane.server,
        env=_cluster_env(plane.kubeconfig, plane.workdir / "kube-cache"),
        kubectl_bin=str(binaries.kubectl),
        helm_bin=str(binaries.helm),
        fake_nodes=tuple(plane.fake_nodes),
        kubernetes_version=controlplane.read_versions()["K8S_VERSION"],
    )


@contextlib.contextmanager
def own_control_plane(binaries: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesCluster]:
    """A control plane of a test's own, apart from the session's `k8s`: for tests that need a cluster
    in a state the shared one cannot promise (no autonomy CRDs, say). Stopped on exit."""
    plane = _start_plane(binaries, tmp_path_factory)
    try:
        yield _cluster_of(plane, binaries)
    finally:
        plane.stop()
        atexit.unregister(plane.stop)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the control plane runs, SIGTERM (a CI timeout, say) ends pytest like Ctrl-C does, so the
    fixtures tear down in order, instead of killing it outright (unless someone else handles SIGTERM)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="session")
def k8s_binaries(request: pytest.FixtureRequest) -> Any:
    """The built control-plane binaries (controlplane.Binaries), for tests of the harness itself."""
    return _binaries(request)


@pytest.fixture
def namespace(k8s: KubernetesCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (its `default` ServiceAccount already there), deleted after the test."""
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem or 'test'}-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("create", "namespace", name)
    # Pods are rejected until the token controller has made the namespace's default ServiceAccount.
    deadline = time.monotonic() + 30
    while k8s.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name}: no `default` ServiceAccount after 30 s", pytrace=False)
        time.sleep(0.1)
    try:
        yield name
    finally:
        k8s.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def cri_log_line(text: str, *, stream: str = "stdout", at: datetime | None = None) -> str:
    """One line of a container log file as container runtimes write it (the CRI format kwok reads)."""
    stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp} {stream} F {text}\n"


@dataclass(frozen=True)
class PodLogs:
    """Container logs for pods on kwok's fake nodes: local files, named by a kwok `Logs` resource per
    pod, that kwok serves as a kubelet would (`kubectl logs`, `-f`, `--tail`, `--since`)."""

    k8s: KubernetesCluster
    directory: Path

    def provide(
        self, namespace: str, pod: str, lines: Mapping[str, Sequence[str]], *, at: datetime | None = None
    ) -> dict[str, Path]:
        """Write each container's `lines` (stamped `at`, default now) and map them to the pod; returns
        the file of each container once `kubectl logs` serves it."""
        files: dict[str, Path] = {}
        for container, texts in lines.items():
            path = self.directory / f"{namespace}_{pod}_{container}.log"
            path.write_text("".join(cri_log_line(text, at=at) for text in texts))
            files[container] = path
        logs = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Logs",
            "metadata": {"name": pod, "namespace": namespace},
            "spec": {"logs": [{"containers": [c], "logsFile": str(p)} for c, p in files.items()]},
        }
        self.k8s.kubectl("apply", "-f", "-", input=json.dumps(logs))
        # kwok learns of the Logs through a watch: wait until it serves every container.
        deadline = time.monotonic() + 30
        for container in files:
            while self.k8s.kubectl("logs", pod, "-c", container, "-n", namespace, check=False).returncode != 0:
                if time.monotonic() > deadline:
                    pytest.fail(f"kwok serves no logs for {namespace}/{pod}/{container} after 30 s", pytrace=False)
                time.sleep(0.2)
        return files

    @staticmethod
    def append(path: Path, text: str, *, at: datetime | None = None) -> None:
        """Append one line, as a running container would."""
        with path.open("a") as out:
            out.write(cri_log_line(text, at=at))


@pytest.fixture
def pod_logs(k8s: KubernetesCluster, tmp_path_factory: pytest.TempPathFactory) -> PodLogs:
    """Give pods on the fake nodes container logs (the suite's own control plane only)."""
    if not k8s.fake_nodes:
        pytest.skip("pod logs come from kwok's Logs resources, which only the suite's own control plane has")
    return PodLogs(k8s, tmp_path_factory.mktemp("pod-logs"))


# ------------------------------------------------------------------------------------ real node (tier 5)


def load_realnode() -> ModuleType:
    """hack/k8s/realnode.py (host_state, the node's constants), loaded by path like controlplane.py."""
    return _load_controlplane("autonomy_hack_k8s_realnode", REALNODE_PY)


@dataclass(frozen=True)
class RealCluster:
    """A control plane without fake nodes plus one real node (kubelet + containerd): pods really run.

    `k8s.kubeconfig` is the node's kubeconfig, whose cluster names the node's containerd, so that
    `autonomy zone deploy` imports the images it builds into it."""

    k8s: KubernetesCluster
    node: str
    containerd_socket: Path
    ctr_bin: str
    workdir: Path
    setup_seconds: float
    start_seconds: float

    def ctr(self, *args: str, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        argv = [self.ctr_bin, "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args]
        result = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise CommandFailed(result.returncode, argv, result.stdout.decode(), result.stderr.decode())
        return result


def _real_node_setup() -> float:
    """hack/k8s/realnode-setup.sh (apt packages, kubelet/kube-proxy builds); skips/fails with its reason."""
    realnode = load_realnode()
    problems = realnode.host_problems()
    if problems:
        _unavailable("this host cannot run a real node: " + "; ".join(problems))
    started = time.monotonic()
    result = subprocess.run(["bash", str(REALNODE_SETUP), "--optional"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"hack/k8s/realnode-setup.sh failed:\n{result.stderr[-3000:]}", pytrace=False)
    try:
        realnode.NodeBinaries.find()
    except realnode.RealNodeError as error:
        _unavailable(f"{error}\n{result.stderr.strip()[-1500:]}")
    return time.monotonic() - started


def _stop_supervisor(supervisor: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """SIGTERM: the supervisor tears the node down; if it cannot, SIGKILL and `realnode.py clean`."""
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
    subprocess.run([sys.executable, str(REALNODE_PY), "clean"], capture_output=True, check=False, timeout=120)


def start_real_node(cluster_dir: Path, workdir: Path, timeout: float = 240) -> subprocess.Popen[bytes]:
    """`realnode.py run` as a child that dies with this process (and then tears the node down)."""
    ready = workdir.parent / f".{workdir.name}.ready"
    ready.unlink(missing_ok=True)
    log = workdir.parent / f"{workdir.name}-supervisor.log"
    with log.open("ab") as out:
        supervisor = subprocess.Popen(
            [sys.executable, str(REALNODE_PY), "run", "--cluster-dir", str(cluster_dir), "--dir", str(workdir),
             "--ready-file", str(ready)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=controlplane._die_with_parent,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if supervisor.poll() is not None or time.monotonic() > deadline:
            _stop_supervisor(supervisor)
            tail = "\n  ".join(log.read_text(errors="replace").splitlines()[-25:])
            pytest.fail(f"the real node did not start; last lines of {log}:\n  {tail}", pytrace=False)
        time.sleep(0.2)
    return supervisor


@pytest.fixture(scope="session")
def real_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """A Kubernetes API with one real node, for the whole session; torn down whatever happens.

    A control plane of its own (no kwok nodes), so the kwok tier's `k8s` stays as it is beside it."""
    setup_seconds = _real_node_setup()
    binaries = _binaries(request)
    realnode = load_realnode()
    with _sigterm_as_interrupt():
        started = time.monotonic()
        plane = controlplane.ControlPlane(workdir=tmp_path_factory.mktemp("real-k8s"), binaries=binaries, nodes=0)
        atexit.register(plane.stop)
        supervisor: subprocess.Popen[bytes] | None = None
        try:
            plane.start()
            workdir = plane.workdir / "node"
            supervisor = start_real_node(plane.workdir, workdir)
            start_seconds = time.monotonic() - started
            kubeconfig = workdir / "kubeconfig"
            cluster = KubernetesCluster(
                kubeconfig=kubeconfig,
                server=plane.server,
                env=_cluster_env(kubeconfig, plane.workdir / "kube-cache"),
                kubectl_bin=str(binaries.kubectl),
                helm_bin=str(binaries.helm),
                kubernetes_version=controlplane.read_versions()["K8S_VERSION"],
            )
            request.config.stash[_REAL_STARTUP_KEY] = start_seconds
            yield RealCluster(
                k8s=cluster, node=realnode.NODE_NAME, containerd_socket=workdir / "containerd" / "containerd.sock",
                ctr_bin=str(realnode.NodeBinaries.find().ctr), workdir=workdir, setup_seconds=setup_seconds,
                start_seconds=start_seconds,
            )  # fmt: skip
        finally:
            if supervisor is not None:
                _stop_supervisor(supervisor)
            plane.stop()
            atexit.unregister(plane.stop)


_REAL_STARTUP_KEY = pytest.StashKey[float]()
_STARTUP_KEY = pytest.StashKey[float]()
_BUILD_ERROR_KEY = pytest.StashKey[str]()


def _uses_cluster(item: pytest.Item) -> bool:
    return bool({"k8s", "k8s_binaries", "real_cluster"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whatever uses the cluster is a control-plane test, so `-m "not control_plane"` leaves it out."""
    for item in items:
        if _uses_cluster(item):
            item.add_marker(pytest.mark.control_plane)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries now if a selected test needs them (before any test's timeout starts)."""
    config = session.config
    if config.option.collectonly:
        return
    names = [set(getattr(item, "fixturenames", ())) for item in session.items]
    if any({"k8s_binaries", "real_cluster"} & n for n in names) or (
        _existing_kubeconfig() is None and any("k8s" in n for n in names)
    ):
        _build_if_needed(config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    startup = config.stash.get(_STARTUP_KEY, None)
    if startup is not None:
        version = controlplane.read_versions()["K8S_VERSION"]
        terminalreporter.write_line(f"control plane (Kubernetes {version}, kwok) started in {startup:.1f} s")
    real = config.stash.get(_REAL_STARTUP_KEY, None)
    if real is not None:
        terminalreporter.write_line(f"control plane + real node (kubelet, containerd) started in {real:.1f} s")
