#!/usr/bin/env python3
"""Start and stop a real Kubernetes control plane on loopback, for the tests and for contributors.

Why: the project tests its operator, chart and CLI against a real Kubernetes API, not mocks, and no
container image can be pulled here, so the control plane runs as plain processes built from the Go
modules by ``hack/k8s/build.sh``: etcd, kube-apiserver (with a throwaway CA and an admin kubeconfig),
kube-controller-manager, kube-scheduler, and kwok, which plays the kubelets of fake nodes so that
pods are scheduled and become Running.

Every process gets its own process group and is stopped by group; nothing binds outside 127.0.0.1,
and every port is a free one picked at start. Only the standard library and the ``openssl`` and
``kubectl`` commands are needed, so ``python3 hack/k8s/controlplane.py`` works without the venv.

Command line (used by ``make cluster-up`` / ``make cluster-down``)::

    controlplane.py up   [--dir DIR] [--nodes N]   start in the background, print the kubeconfig
    controlplane.py down [--dir DIR]               stop what ``up`` started in DIR
    controlplane.py run  [--dir DIR] [--nodes N]   start, wait until interrupted, stop
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_CLUSTER_DIR = REPO / ".cluster"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the first IP of SERVICE_CIDR: the `kubernetes` Service
POD_CIDR = "10.244.0.0/16"  # disjoint from SERVICE_CIDR; kwok hands pod IPs out of it
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
STATE_FILE = "state.json"
# kwok's Logs/ClusterLogs CRDs (copied from its module): pod logs of fake nodes come from local files.
KWOK_LOGS_CRDS = HERE / "kwok-logs-crds.yaml"
KWOK_LOGS_CRD_NAMES = ("logs.kwok.x-k8s.io", "clusterlogs.kwok.x-k8s.io")


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or reached; the message says what to do."""


class BinariesMissing(ControlPlaneError):
    """The binaries are not built (and may not be buildable here: no Go)."""


# --------------------------------------------------------------------------------------------- binaries


def read_versions() -> dict[str, str]:
    """The pinned versions, from versions.env (the same file build.sh sources)."""
    versions: dict[str, str] = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def cache_root() -> Path:
    return Path(os.environ.get("AUTONOMY_K8S_CACHE", Path.home() / ".cache" / "autonomy-k8s"))


@dataclass(frozen=True)
class Binaries:
    """Paths of every program the control plane and its users run."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    helm: Path
    kubectl: Path

    @classmethod
    def from_cache(cls, root: Path | None = None) -> Binaries:
        """The binaries built by build.sh; raises BinariesMissing naming what is absent."""
        root = root or cache_root()
        v = read_versions()
        k8s = root / f"kubernetes-{v['K8S_VERSION']}"
        found = cls(
            etcd=root / f"etcd-{v['ETCD_VERSION']}" / "etcd",
            kube_apiserver=k8s / "kube-apiserver",
            kube_controller_manager=k8s / "kube-controller-manager",
            kube_scheduler=k8s / "kube-scheduler",
            kwok=root / f"kwok-{v['KWOK_VERSION']}" / "kwok",
            helm=root / f"helm-{v['HELM_VERSION']}" / "helm",
            kubectl=find_kubectl(),
        )
        missing = [str(p) for p in found.all() if not os.access(p, os.X_OK)]
        if missing:
            raise BinariesMissing(f"not built: {', '.join(missing)}; run hack/k8s/build.sh (or make k8s-bins)")
        return found

    def all(self) -> list[Path]:
        return [
            self.etcd,
            self.kube_apiserver,
            self.kube_controller_manager,
            self.kube_scheduler,
            self.kwok,
            self.helm,
            self.kubectl,
        ]


def find_kubectl() -> Path:
    """kubectl is not built here: it comes with the machine (or KUBECTL=path)."""
    explicit = os.environ.get("KUBECTL")
    found = explicit or shutil.which("kubectl")
    if not found:
        raise ControlPlaneError(
            "kubectl not found on PATH; install kubectl (v1.32 or newer) or set KUBECTL=/path/to/kubectl"
        )
    return Path(found)


def build_binaries() -> None:
    """Run build.sh (a no-op when everything is cached); its progress goes to this process's stderr."""
    if shutil.which("go") is None:
        raise BinariesMissing("Go is not installed, so the control-plane binaries cannot be built")
    result = subprocess.run([str(HERE / "build.sh")], check=False)
    if result.returncode != 0:
        raise ControlPlaneError("hack/k8s/build.sh failed (its last lines are above)")


# --------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _openssl(*args: str, cwd: Path) -> None:
    if shutil.which("openssl") is None:
        raise ControlPlaneError("openssl not found on PATH; install it (Debian package `openssl`)")
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A throwaway CA, serving certs for the apiserver and kwok, an admin client cert and the SA key."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *_EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
             "-subj", "/CN=autonomy-test-ca", cwd=pki)  # fmt: skip
    apiserver_names = [
        "IP:127.0.0.1",
        f"IP:{SERVICE_IP}",
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
    ]
    _signed_cert(pki, "apiserver", "/CN=kube-apiserver", "serverAuth", apiserver_names)
    # kwok's kubelet-like server (logs): the apiserver checks it against the CA and the node's
    # InternalIP (127.0.0.1), as it checks a kubelet with --kubelet-certificate-authority.
    _signed_cert(pki, "kwok", "/CN=kwok-kubelet", "serverAuth", ["IP:127.0.0.1", "DNS:localhost"])
    # The API server's client certificate towards kubelets (logs, exec, port-forward of real nodes;
    # kwok's server asks for none).
    _signed_cert(pki, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "clientAuth")
    # system:masters: the admin bypasses RBAC, as kind's admin does.
    _signed_cert(pki, "admin", "/O=system:masters/CN=autonomy-admin", "clientAuth")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _signed_cert(pki: Path, name: str, subject: str, usage: str, alt_names: Sequence[str] = ()) -> None:
    """`<name>.crt` and `<name>.key` in `pki`, signed by the test CA, for `usage` (serverAuth/clientAuth)."""
    extensions = ["-addext", f"extendedKeyUsage={usage}"]
    if alt_names:
        extensions += ["-addext", f"subjectAltName={','.join(alt_names)}"]
    _openssl("req", "-x509", *_EC_KEY, "-CA", "ca.crt", "-CAkey", "ca.key", "-keyout", f"{name}.key",
             "-out", f"{name}.crt", "-days", "30", "-subj", subject, *extensions, cwd=pki)  # fmt: skip


def write_kubeconfig(path: Path, server: str, pki: Path) -> None:
    """A self-contained admin kubeconfig (certificates inline), JSON being valid YAML."""

    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "autonomy-test", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}
        ],
        "users": [
            {
                "name": "autonomy-admin",
                "user": {"client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key")},
            }
        ],
        "contexts": [{"name": "autonomy-test", "context": {"cluster": "autonomy-test", "user": "autonomy-admin"}}],
        "current-context": "autonomy-test",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, interval: float = 0.1, alive: Callable[[], None] | None = None
) -> None:
    """Poll `check` until it holds; `alive` raises early when a process it depends on has died."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError, subprocess.SubprocessError):
            pass
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------- processes


@dataclass
class Component:
    """One running program of the control plane, alone in its process group (pgid == pid)."""

    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None  # None when adopted from a state file

    def running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _group_exists(self.pid)

    def terminate(self) -> None:
        _signal_group(self.pid, signal.SIGTERM)

    def wait_gone(self, timeout: float) -> bool:
        """Wait until the group is gone (reaping our own child); False if still there at the timeout."""
        if self.popen is not None:
            try:
                self.popen.wait(timeout=max(timeout, 0.0))
            except subprocess.TimeoutExpired:
                return False
        return _wait_group_gone(self.pid, timeout if self.popen is None else 1.0)

    def kill(self) -> None:
        _signal_group(self.pid, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()
        _wait_group_gone(self.pid, 5.0)


def stop_all(components: Sequence[Component], grace: float = 10.0) -> None:
    """SIGTERM to every group at once (each takes 1-3 s to shut down), SIGKILL what outlives `grace`."""
    for component in components:
        component.terminate()
    deadline = time.monotonic() + grace
    for component in components:
        if not component.wait_gone(deadline - time.monotonic()):
            component.kill()
        # Anything the leader left behind in its group goes too.
        _signal_group(component.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_exists(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def recorded_components(workdir: Path) -> list[Component]:
    """The components a detached `up` recorded in `workdir` (empty when none)."""
    try:
        state = json.loads((workdir / STATE_FILE).read_text())
    except FileNotFoundError:
        return []
    return [Component(name=c["name"], pid=int(c["pid"]), log=Path(c["log"])) for c in state["components"]]


def stop_recorded(workdir: Path) -> int:
    """Stop what a detached `up` started in `workdir`; returns how many components were recorded."""
    components = recorded_components(workdir)
    stop_all(components)
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_FILE).unlink()
    return len(components)


@dataclass
class ControlPlane:
    """A control plane in `workdir`: start() brings it up and waits until it serves; stop() tears it down.

    `detached=True` lets the processes outlive this Python process (for `make cluster-up`); otherwise
    the kernel sends them SIGTERM when it dies, however it dies.
    """

    workdir: Path
    binaries: Binaries
    nodes: int = 1
    detached: bool = False
    components: list[Component] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def fake_nodes(self) -> list[str]:
        return [f"kwok-node-{i}" for i in range(self.nodes)]

    # ---- lifecycle

    def start(self, timeout: float = 120.0) -> None:
        """Start every component in order and wait until pods can be scheduled; stops all on failure."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every component; idempotent."""
        stop_all(self.components)
        self.components.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / STATE_FILE).unlink()

    def _start(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        pki = self.workdir / "pki"
        make_pki(pki)
        # "kubelet": kwok's kubelet-like server, where the apiserver fetches pod logs for every fake node.
        self.ports = {"etcd": free_port(), "etcd_peer": free_port(), "apiserver": free_port(), "kubelet": free_port()}
        write_kubeconfig(self.kubeconfig, self.server, pki)

        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=etcd",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=etcd={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        wait_for("etcd /health", lambda: self._etcd_healthy(etcd_url), self._left(deadline), alive=self._check_alive)

        self._spawn(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports['apiserver']}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                # `pods/log` goes to the node's kubelet port (kwok's server, or a real kubelet): by
                # InternalIP, checked against the test CA, with a client cert real kubelets check.
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            ],
        )
        wait_for(
            "kube-apiserver /readyz",
            lambda: self._get("/readyz") == b"ok",
            self._left(deadline),
            alive=self._check_alive,
        )

        scheduler_config = self.workdir / "scheduler.yaml"
        scheduler_config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubescheduler.config.k8s.io/v1",
                    "kind": "KubeSchedulerConfiguration",
                    "clientConnection": {"kubeconfig": str(self.kubeconfig)},
                    "leaderElection": {"leaderElect": False},
                }
            )
        )
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={self.kubeconfig}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--leader-elect=false",
                "--secure-port=0",
                "--use-service-account-credentials=false",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--profiling=false",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.binaries.kube_scheduler),
                f"--config={scheduler_config}",
                "--secure-port=0",
                "--profiling=false",
            ],
        )
        # kwok watches Logs/ClusterLogs only if their CRDs are served when it starts.
        self.kubectl("apply", "--server-side", "-f", str(KWOK_LOGS_CRDS))
        self.kubectl("wait", "--for=condition=Established", *(f"crd/{c}" for c in KWOK_LOGS_CRD_NAMES),
                     f"--timeout={self._left(deadline):.0f}s")  # fmt: skip
        kubelet = self.ports["kubelet"]
        self._spawn(
            "kwok",
            [
                str(self.binaries.kwok),
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
                # The kubelet-like server: container logs of the files named by Logs/ClusterLogs
                # resources. --node-port puts the port in each node's status.daemonEndpoints.
                f"--node-port={kubelet}",
                f"--server-address=127.0.0.1:{kubelet}",
                f"--tls-cert-file={pki / 'kwok.crt'}",
                f"--tls-private-key-file={pki / 'kwok.key'}",
                "--enable-crds=Logs,ClusterLogs",
            ],
        )
        self._apply_fake_nodes()
        wait_for(
            f"{self.nodes} fake node(s) Ready, untainted, with their kubelet port",
            self._nodes_ready,
            self._left(deadline),
            interval=0.2,
            alive=self._check_alive,
        )
        wait_for(
            "kwok's kubelet server",
            lambda: self._kubelet_healthy(kubelet),
            self._left(deadline),
            alive=self._check_alive,
        )
        default_sa = "/api/v1/namespaces/default/serviceaccounts/default"
        wait_for(
            "the `default` ServiceAccount",
            lambda: self._exists(default_sa),
            self._left(deadline),
            interval=0.2,
            alive=self._check_alive,
        )

    # ---- pieces

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        log = self.workdir / "logs" / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=None if self.detached else _die_with_parent,
            )
        self.components.append(Component(name=name, pid=popen.pid, log=log, popen=popen))
        self._write_state()  # at once, so `down` finds it even if this process dies mid-start

    def _check_alive(self) -> None:
        for component in self.components:
            if not component.running():
                tail = component.log.read_text(errors="replace").splitlines()[-15:]
                raise ControlPlaneError(
                    f"{component.name} exited during start-up; last lines of {component.log}:\n  " + "\n  ".join(tail)
                )

    @staticmethod
    def _left(deadline: float) -> float:
        return max(deadline - time.monotonic(), 0.1)

    @staticmethod
    def _etcd_healthy(url: str) -> bool:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(json.load(response).get("health") == "true")

    def _ssl_context(self) -> ssl.SSLContext:
        pki = self.workdir / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.server + path, context=self._ssl_context(), timeout=5) as response:
            return bytes(response.read())

    def _kubelet_healthy(self, port: int) -> bool:
        context = ssl.create_default_context(cafile=str(self.workdir / "pki" / "ca.crt"))
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context, timeout=2) as response:
            return bool(response.status == 200)

    def _exists(self, path: str) -> bool:
        try:
            self._get(path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise
        return True

    def _apply_fake_nodes(self) -> None:
        if not self.fake_nodes:  # a control plane for real nodes only (hack/k8s/realnode.py)
            return
        resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
        items = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {FAKE_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                },
                "spec": {},
                "status": {"allocatable": resources, "capacity": resources},
            }
            for name in self.fake_nodes
        ]
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        self.kubectl("apply", "-f", "-", input=manifest)

    def _nodes_ready(self) -> bool:
        nodes = json.loads(self._get("/api/v1/nodes?labelSelector=type%3Dkwok"))["items"]
        ready = 0
        for node in nodes:
            conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
            taints = node["spec"].get("taints", [])
            blocking = [t for t in taints if t["effect"] in ("NoSchedule", "NoExecute")]
            port = node["status"].get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
            if conditions.get("Ready") == "True" and not blocking and port == self.ports["kubelet"]:
                ready += 1
        return ready >= self.nodes

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [
                str(self.binaries.kubectl),
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.workdir / 'kube-cache'}",
                *args,
            ],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    # ---- state file (so `down` can stop what a detached `up` started)

    def _write_state(self) -> None:
        state = {
            "ports": self.ports,
            "kubeconfig": str(self.kubeconfig),
            "components": [{"name": c.name, "pid": c.pid, "log": str(c.log)} for c in self.components],
        }
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=2))


# --------------------------------------------------------------------------------------------- CLI


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _up(workdir: Path, nodes: int, detached: bool) -> ControlPlane:
    if any(c.running() for c in recorded_components(workdir)):
        raise ControlPlaneError(f"a control plane already runs from {workdir}; run `make cluster-down` first")
    stop_recorded(workdir)  # leftovers of a dead one, if any
    for stale in ("etcd", "pki", "logs"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    try:
        binaries = Binaries.from_cache()
    except BinariesMissing:
        build_binaries()
        binaries = Binaries.from_cache()
    plane = ControlPlane(workdir=workdir, binaries=binaries, nodes=nodes, detached=detached)
    started = time.monotonic()
    plane.start()
    print(f"control plane ready in {time.monotonic() - started:.1f} s at {plane.server}", file=sys.stderr)
    print(f"export KUBECONFIG={plane.kubeconfig}")
    sys.stdout.flush()
    return plane


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "run"])
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_CLUSTER_DIR, help="working directory (default: %(default)s)"
    )
    parser.add_argument("--nodes", type=int, default=1, help="number of fake kwok nodes (default: 1)")
    args = parser.parse_args(argv)
    workdir: Path = args.dir.resolve()
    try:
        if args.command == "down":
            if stop_recorded(workdir) == 0:
                print(f"no control plane recorded in {workdir}", file=sys.stderr)
            else:
                print(f"control plane in {workdir} stopped", file=sys.stderr)
            return 0
        if args.command == "up":
            _up(workdir, args.nodes, detached=True)
            return 0
        # run: foreground; SIGTERM and SIGINT both end in an orderly stop.
        signal.signal(signal.SIGTERM, _interrupt)
        plane = _up(workdir, args.nodes, detached=False)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            plane.stop()
        return 0
    except KeyboardInterrupt:
        return 130
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
