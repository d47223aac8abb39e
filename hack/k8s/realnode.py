#!/usr/bin/env python3
"""A real Kubernetes node (containerd, runc, CNI bridge, kubelet, kube-proxy) beside the control plane
of ``controlplane.py``: pods that really run, for the real-pods test tier (DESIGN.md section 6, tier 5).

Why: kwok's pods turn Running while nothing runs. Here the kubelet runs containers through containerd;
pods get addresses on a bridge of their own, reach each other and the ClusterIPs of kube-proxy, and reach
the API server from inside (a forwarder on the node's address plus an EndpointSlice for the `kubernetes`
Service, so in-cluster config works). Nothing leaves the machine: a FORWARD rule drops whatever pods send
beyond their bridge, and the node's address is a /32 on `lo`.

A kubelet touches the host whatever its flags say (iptables chains, sysctls, cgroups, /var/lib/kubelet,
shim sockets), so one real node runs per machine at a time (a lock in STATE_DIR), its supervisor records
the host's prior state in STATE_DIR/state.json *before* changing anything, and the tear-down puts
everything back. It always runs: on SIGTERM/SIGINT, when the supervisor's parent dies (parent-death
signal), and, after a SIGKILL of the supervisor itself, at the next start or ``realnode.py clean``.

Command line (standard library only, like controlplane.py)::

    realnode.py run   --cluster-dir DIR [--dir NODEDIR]   supervise in the foreground until SIGTERM
    realnode.py up    --cluster-dir DIR [--dir NODEDIR]   the same, detached; prints the kubeconfig
    realnode.py down                                      stop the node that runs (and clean up)
    realnode.py clean                                     remove leftovers of a node that died
    realnode.py host-state                                print what tear-down must leave unchanged

The node's kubeconfig (NODEDIR/kubeconfig) is the cluster's admin kubeconfig whose cluster entry carries
the extension ``autonomy.computer/local-containerd`` (the containerd socket and namespace), which
``autonomy zone deploy`` reads to load the images it built into this node, as it loads them into kind.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import controlplane as cp  # noqa: E402  (a sibling script, not a package)

STATE_DIR = Path(os.environ.get("AUTONOMY_REALNODE_STATE_DIR", "/run/autonomy-realnode"))
NODE_NAME = "autonomy-real-node"
NODE_IP = "10.250.0.1"  # a /32 on lo: the kubelet refuses loopback node IPs and there is no dummy driver
BRIDGE = "autonomy0"
POD_SUBNET = "10.244.128.0/24"
POD_GATEWAY = "10.244.128.1"
CHAIN = "AUTONOMY-REALNODE"  # our own iptables chain: the drop rule that keeps pod traffic on the machine
CONTAINERD_NAMESPACE = "k8s.io"
PAUSE_REPO = "autonomy.local/pause"
KUBECONFIG_EXTENSION = "autonomy.computer/local-containerd"
# iptables chains the kubelet, kube-proxy, the CNI plugins and this script make (in any table, v4 and v6).
CHAIN_PATTERN = re.compile(r"^(KUBE-|CNI-|AUTONOMY-)")
# Sysctls the kubelet, kube-proxy or the bridge plugin set, restored at tear-down.
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
)
# Host paths the kubelet or containerd create whatever their flags say: removed when they were not there.
HOST_PATHS = ("/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/var/log/containers", "/run/containerd",
              "/opt/containerd", "/etc/kubernetes")  # fmt: skip
SHIM_SOCKETS = Path("/run/containerd/s")
CNI_BIN = Path("/usr/lib/cni")
DEBIAN_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "nftables")
SETUP_HINT = "run `make real-node-setup` (hack/k8s/realnode-setup.sh installs and builds everything)"


class RealNodeError(RuntimeError):
    """The node could not be prepared, started or cleaned; the message says what to do."""


def say(message: str) -> None:
    print(f"[realnode] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    kube_proxy: Path
    pause: Path
    containerd: Path
    ctr: Path
    runc: Path
    iptables: Path

    @classmethod
    def find(cls) -> NodeBinaries:
        """The programs the node runs; raises RealNodeError naming what is missing and the fix."""
        root = cp.cache_root()
        k8s = cp.read_versions()["K8S_VERSION"]
        node_dir = root / f"kubernetes-node-{k8s}"
        found = {
            "kubelet": node_dir / "kubelet",
            "kube_proxy": node_dir / "kube-proxy",
            "pause": root / f"pause-{pause_hash()}" / "pause",
        }
        for name, program in (("containerd", "containerd"), ("ctr", "ctr"), ("runc", "runc"),
                              ("iptables", "iptables")):  # fmt: skip
            located = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
            found[name] = Path(located) if located else Path(f"<{program} not on PATH>")
        missing = [str(p) for p in found.values() if not os.access(p, os.X_OK)]
        missing += [str(CNI_BIN / p) for p in ("bridge", "host-local", "loopback", "firewall")
                    if not os.access(CNI_BIN / p, os.X_OK)]  # fmt: skip
        if not shutil.which("containerd-shim-runc-v2"):
            missing.append("containerd-shim-runc-v2")
        if not shutil.which("conntrack") and not shutil.which("conntrack", path="/usr/sbin:/sbin"):
            missing.append("conntrack")
        if missing:
            raise RealNodeError(f"missing: {', '.join(missing)}; {SETUP_HINT}")
        return cls(**found)


def pause_hash() -> str:
    """The same hash build.sh names the pause build by (its source files)."""
    digest = hashlib.sha256()
    for name in ("main.go", "go.mod"):
        digest.update((HERE / "pause" / name).read_bytes())
    return digest.hexdigest()[:12]


def host_problems() -> list[str]:
    """Why this host cannot run a real node (empty when it can): checked before anything is changed."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (the kubelet, containerd and the CNI plugins need root)")
    if not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
        problems.append("no cgroup filesystem under /sys/fs/cgroup")
    if not Path("/proc/sys/net/bridge").is_dir():
        problems.append("no br_netfilter (/proc/sys/net/bridge is missing)")
    return problems


# --------------------------------------------------------------------------------------------- host state


def _run(argv: Sequence[str], *, check: bool = False, input: str | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
    result = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RealNodeError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    with contextlib.suppress(OSError):
        Path("/proc/sys", *name.split(".")).write_text(value)


def _iptables_tools() -> list[tuple[str, str]]:
    """(iptables, iptables-save) pairs of every backend present: nft (the default) and legacy."""
    tools = []
    for family in ("iptables", "ip6tables"):
        for suffix in ("", "-legacy"):
            binary = shutil.which(f"{family}{suffix}") or shutil.which(f"{family}{suffix}", path="/usr/sbin:/sbin")
            save = shutil.which(f"{family}{suffix}-save") or shutil.which(f"{family}{suffix}-save",
                                                                           path="/usr/sbin:/sbin")  # fmt: skip
            if binary and save:
                tools.append((binary, save))
    return tools


def _ours_in_tables() -> dict[str, list[str]]:
    """Our chains (KUBE-/CNI-/AUTONOMY-) and the rules jumping to them, per backend and table."""
    found: dict[str, list[str]] = {}
    for binary, save in _iptables_tools():
        dump = _run([save], timeout=30).stdout
        table = ""
        for line in dump.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":") and CHAIN_PATTERN.match(line[1:].split()[0]):
                found.setdefault(f"{Path(binary).name} {table}", []).append(line.split()[0][1:])
            elif line.startswith("-A ") and CHAIN_PATTERN.search(" ".join(_jump_targets(line))):
                found.setdefault(f"{Path(binary).name} {table}", []).append(line)
    return found


def _jump_targets(rule: str) -> list[str]:
    words = rule.split()
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-j", "-g", "--jump", "--goto")]


def _cgroup_roots() -> list[Path]:
    base = Path("/sys/fs/cgroup")
    roots = [p for p in base.iterdir() if p.is_dir() and not p.is_symlink()] if base.is_dir() else []
    if (base / "cgroup.procs").exists():  # a pure cgroup v2 host
        roots = [base]
    return roots


def _our_cgroups() -> list[str]:
    return sorted(str(d) for root in _cgroup_roots() for d in root.glob("kubepods*") if d.is_dir())


def _our_links() -> list[str]:
    out = _run(["ip", "-o", "link", "show"]).stdout
    names = []
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name == BRIDGE or f"master {BRIDGE}" in line:
            names.append(name)
    return names


def _node_ip_on_lo() -> bool:
    return f"inet {NODE_IP}/32" in _run(["ip", "-o", "-4", "addr", "show", "dev", "lo"]).stdout


def _processes_of(workdir_hint: str = "") -> list[str]:
    """Processes of a real node (by program name and our socket path), as `pid cmdline`."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if not words:
            continue
        program = Path(words[0]).name
        line = " ".join(words)
        ours = program in ("kubelet", "kube-proxy", "pause") or (
            program == "containerd" and "/run/docker/" not in line  # not dockerd's own containerd
        ) or (program.startswith("containerd-shim") and f"-namespace {CONTAINERD_NAMESPACE}" in line)
        if ours and (not workdir_hint or workdir_hint in line or program in ("kubelet", "kube-proxy", "pause")):
            out.append(f"{proc.name} {line}")
    return out


def _mounts_under(prefixes: Sequence[str]) -> list[str]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == p or point.startswith(p.rstrip("/") + "/") for p in prefixes):
            mounts.append(point)
    return mounts


def host_state() -> dict[str, Any]:
    """What a real node changes on the host, as it is now: tear-down must bring it back to this."""
    nft = _run(["nft", "list", "tables"]).stdout.split("\n") if shutil.which("nft") else []
    return {
        "processes": _processes_of(),
        "mounts": sorted(set(_mounts_under([*HOST_PATHS, str(STATE_DIR)]) + [
            m for m in _mounts_under(["/"]) if "kubelet" in m or "/k8s.io/" in m or "realnode" in m])),
        "links": _our_links(),
        "node_ip_on_lo": _node_ip_on_lo(),
        "iptables": _ours_in_tables(),
        "nft_tables": sorted(t for t in nft if t.strip()),
        "cgroups": _our_cgroups(),
        "sysctls": {name: read_sysctl(name) for name in SYSCTLS},
        # /run/containerd is shared with dockerd's shims, which come and go: only dead sockets count.
        "paths": {p: Path(p).exists() for p in HOST_PATHS if p != "/run/containerd"},
        "dead_shim_sockets": _dead_shim_sockets(),
    }  # fmt: skip


def _dead_shim_sockets() -> list[str]:
    if not SHIM_SOCKETS.is_dir():
        return []
    live = _live_unix_sockets()
    return sorted(s.name for s in SHIM_SOCKETS.iterdir() if str(s) not in live and f"unix://{s}" not in live)


# --------------------------------------------------------------------------------------------- tear-down


def _proc_start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _kill_recorded(components: Sequence[dict[str, Any]], grace: float = 10.0) -> None:
    """SIGTERM each recorded process group whose leader is still the process we started, then SIGKILL."""
    alive = [c for c in components if _proc_start_time(int(c["pid"])) == c.get("start")]
    for component in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(component["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + grace
    for component in alive:
        pid = int(component["pid"])
        while _proc_start_time(pid) == component.get("start") and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _kill_pods_and_shims(socket_path: str) -> None:
    """SIGKILL every process in the pods' cgroups, and the containerd shims of our containerd."""
    for _attempt in range(20):
        pids: set[int] = set()
        for cgroup in _our_cgroups():
            for procs in Path(cgroup).rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in procs.read_text().split())
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    if "containerd-shim" in line and socket_path and socket_path in line:
                        pids.add(int(proc.name))
        pids.discard(os.getpid())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _unmount_under(prefixes: Sequence[str]) -> None:
    for _attempt in range(5):
        mounts = _mounts_under(prefixes)
        if not mounts:
            return
        for point in sorted(mounts, key=len, reverse=True):
            if _run(["umount", point]).returncode != 0:
                _run(["umount", "-l", point])


def _remove_cgroups() -> None:
    for _attempt in range(20):
        left = _our_cgroups()
        if not left:
            return
        for top in left:
            for directory in sorted((p for p in Path(top).rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                                    reverse=True):  # fmt: skip
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                Path(top).rmdir()
        time.sleep(0.2)


def _remove_iptables() -> None:
    """Delete every rule jumping to a KUBE-/CNI-/AUTONOMY- chain, then flush and delete those chains."""
    for binary, save in _iptables_tools():
        dump = _run([save], timeout=30).stdout
        table = ""
        jumps: list[tuple[str, list[str]]] = []
        chains: list[tuple[str, str]] = []
        for line in dump.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":"):
                name = line[1:].split()[0]
                if CHAIN_PATTERN.match(name):
                    chains.append((table, name))
            elif line.startswith("-A "):
                words = shlex.split(line)
                if not CHAIN_PATTERN.match(words[1]) and any(CHAIN_PATTERN.match(t) for t in _jump_targets(line)):
                    jumps.append((table, words[1:]))
        for table, rule in jumps:
            _run([binary, "-w", "5", "-t", table, "-D", *rule])
        for table, name in chains:
            _run([binary, "-w", "5", "-t", table, "-F", name])
        for table, name in chains:
            _run([binary, "-w", "5", "-t", table, "-X", name])
    if shutil.which("nft"):
        for table in ("ip kube-proxy", "ip6 kube-proxy"):
            _run(["nft", "delete", "table", *table.split()])


def _remove_new_nft_tables(before: Sequence[str]) -> None:
    """iptables-nft leaves the tables it made (ip6 nat, ip mangle...) when their chains go: delete the
    ones that were not there before, if nothing but empty chains is left in them."""
    if not shutil.which("nft"):
        return
    for line in _run(["nft", "list", "tables"]).stdout.splitlines():
        table = line.strip()
        if not table or table in before:
            continue
        words = table.split()  # "table ip6 nat"
        listing = _run(["nft", "list", *words]).stdout
        body = [w.strip() for w in listing.splitlines()]
        rules = [w for w in body if w and not w.startswith(("table ", "chain ", "type ", "policy ", "}"))]
        if not rules:
            _run(["nft", "delete", *words])


def _live_unix_sockets() -> set[str]:
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {line.split()[-1].lstrip("@") for line in lines if len(line.split()) >= 8}


def _restore_paths(state: dict[str, Any]) -> None:
    existed: dict[str, bool] = state.get("paths", {})
    pod_logs = state.get("pod_logs_dir", "")
    containers = Path("/var/log/containers")
    if containers.is_dir():
        for link in containers.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and pod_logs and os.readlink(link).startswith(pod_logs):
                    link.unlink()
    live = _live_unix_sockets()
    if SHIM_SOCKETS.is_dir():
        before = set(state.get("shim_sockets", []))
        for sock in SHIM_SOCKETS.iterdir():
            if sock.name not in before and str(sock) not in live and f"unix://{sock}" not in live:
                with contextlib.suppress(OSError):
                    sock.unlink()
    for path in HOST_PATHS:
        if existed.get(path, True):
            continue
        target = Path(path)
        if path in ("/run/containerd", "/var/log/containers"):
            # Shared with other runtimes (dockerd's shims): only empty directories go.
            for directory in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                                    reverse=True) if target.is_dir() else []:  # fmt: skip
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                target.rmdir()
        elif target.exists():
            _unmount_under([path])
            shutil.rmtree(target, ignore_errors=True)


def tear_down(state: dict[str, Any]) -> None:
    """Put the host back as the state file says it was; idempotent, and safe after any crash."""
    _kill_recorded(state.get("components", []))
    _kill_pods_and_shims(state.get("containerd_socket", ""))
    _kill_recorded(state.get("containerd", []))
    _kill_pods_and_shims(state.get("containerd_socket", ""))
    workdir = state.get("workdir", "")
    if workdir:
        _unmount_under([workdir])
    _remove_cgroups()
    # The pods' veths go with their network namespaces (unmounted above); the bridge and strays go here.
    for link in _our_links():
        if link == BRIDGE or f"master {BRIDGE}" in _run(["ip", "-o", "link", "show", "dev", link]).stdout:
            _run(["ip", "link", "delete", link])
    if state.get("added_node_ip") and _node_ip_on_lo():
        _run(["ip", "addr", "del", f"{NODE_IP}/32", "dev", "lo"])
    _remove_iptables()
    if "nft_tables" in state:
        _remove_new_nft_tables(state["nft_tables"])
    if shutil.which("conntrack") or shutil.which("conntrack", path="/usr/sbin:/sbin"):
        for flag in ("-s", "-d"):
            _run(["conntrack", "-D", flag, POD_SUBNET])
    for name, value in (state.get("sysctls") or {}).items():
        if value is None or read_sysctl(name) == value:
            continue
        if name == "net.ipv4.ip_forward" and value == "0" and _docker_running():
            continue  # dockerd (started meanwhile) needs forwarding; it would have set it itself
        write_sysctl(name, value)
    _restore_paths(state)


def _docker_running() -> bool:
    return any(line.split(" ", 2)[1].endswith("dockerd") for line in _ps_lines())


def _ps_lines() -> list[str]:
    lines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                if argv0:
                    lines.append(f"{proc.name} {argv0}")
    return lines


# --------------------------------------------------------------------------------------------- lock and state


@contextlib.contextmanager
def machine_lock(timeout: float) -> Iterator[None]:
    """One real node per machine: an exclusive flock on STATE_DIR/lock, held while it runs."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(STATE_DIR / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RealNodeError(
                        f"another real node holds {STATE_DIR / 'lock'} (supervisor pid {_recorded_supervisor()}); "
                        "stop it with `python3 hack/k8s/realnode.py down` or `make cluster-down`"
                    ) from None
                if not told:
                    say(f"another real node runs on this machine (pid {_recorded_supervisor()}); waiting for it")
                    told = True
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


def _recorded_supervisor() -> str:
    with contextlib.suppress(OSError, ValueError):
        return str(json.loads((STATE_DIR / "state.json").read_text()).get("supervisor", "?"))
    return "?"


def read_state() -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads((STATE_DIR / "state.json").read_text())
        return loaded
    except FileNotFoundError:
        return None
    except ValueError:
        return {}


def write_state(state: dict[str, Any]) -> None:
    tmp = STATE_DIR / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(STATE_DIR / "state.json")


def clean_leftovers() -> bool:
    """With the lock held: tear down what a dead node left (from its state file). True if there was one."""
    state = read_state()
    if state is None:
        return False
    say("cleaning up after a real node that did not stop cleanly")
    tear_down(state)
    with contextlib.suppress(FileNotFoundError):
        (STATE_DIR / "state.json").unlink()
    return True


# --------------------------------------------------------------------------------------------- the node


def pause_image_archive(pause: Path, ref: str) -> bytes:
    """A one-layer image (docker save layout) whose only file is the pause program."""
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w") as layer:
        info = tarfile.TarInfo("pause")
        data = pause.read_bytes()
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        layer.addfile(info, io.BytesIO(data))
    layer_bytes = layer_buf.getvalue()
    diff_id = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
    }).encode()  # fmt: skip
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": [f"{diff_id}/layer.tar"]}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, payload in ((f"{diff_id}/layer.tar", layer_bytes), (config_name, config),
                              ("manifest.json", manifest)):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(payload), 0
            archive.addfile(info, io.BytesIO(payload))
    return out.getvalue()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Forwarder:
    """TCP from NODE_IP:port to the API server on 127.0.0.1 (which binds loopback only), for pods."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.server = socket.create_server(listen, reuse_port=False)
        self.thread = threading.Thread(target=self._serve, daemon=True, name="api-forwarder")
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                source.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.close()


@dataclass
class RealNode:
    """The supervisor's view of the node: `start()` with the lock held, `stop()` always after."""

    cluster_dir: Path  # controlplane.py's workdir: kubeconfig, pki/, state.json (ports)
    workdir: Path
    binaries: NodeBinaries
    state: dict[str, Any] = field(default_factory=dict)
    forwarder: Forwarder | None = None
    popens: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cluster_dir / "kubeconfig"

    def start(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        plane = json.loads((self.cluster_dir / cp.STATE_FILE).read_text())
        api_port = int(plane["ports"]["apiserver"])
        shutil.rmtree(self.workdir, ignore_errors=True)
        for sub in ("logs", "containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "pki"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        # 1. Record the host as it is, before touching it: tear-down (even after a crash) restores this.
        before = host_state()
        self.state = {
            "supervisor": os.getpid(),
            "supervisor_start": _proc_start_time(os.getpid()),
            "workdir": str(self.workdir),
            "containerd_socket": str(self.socket),
            "pod_logs_dir": str(self.workdir / "pod-logs"),
            "sysctls": before["sysctls"],
            "paths": {p: Path(p).exists() for p in HOST_PATHS},
            "nft_tables": before["nft_tables"],
            "shim_sockets": sorted(p.name for p in SHIM_SOCKETS.iterdir()) if SHIM_SOCKETS.is_dir() else [],
            "added_node_ip": not before["node_ip_on_lo"],
            "components": [],
            "containerd": [],
        }
        write_state(self.state)
        # 2. The host side: the node's address, bridged traffic through iptables, the drop rule.
        if self.state["added_node_ip"]:
            _run(["ip", "addr", "add", f"{NODE_IP}/32", "dev", "lo"], check=True)
        write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
        write_sysctl("net.ipv4.ip_forward", "1")
        self._bridge()
        self._drop_rule()
        # 3. containerd, and the pause image in it.
        self._write_files()
        self._spawn("containerd", [str(self.binaries.containerd), "--config", str(self.workdir / "containerd.toml")],
                    group="containerd")  # fmt: skip
        cp.wait_for("containerd's socket", lambda: self.ctr("version").returncode == 0,
                    self._left(deadline), alive=self._check_alive)  # fmt: skip
        archive = pause_image_archive(self.binaries.pause, self.pause_ref)
        imported = subprocess.run([*self._ctr_argv(), "images", "import", "-"], input=archive, capture_output=True,
                                  check=False, timeout=120)  # fmt: skip
        if imported.returncode != 0:
            raise RealNodeError(f"ctr images import of the pause image failed: {imported.stderr.decode().strip()}")
        # 4. The API server from pods: NODE_IP:port -> 127.0.0.1:port, and the `kubernetes` Service's endpoints.
        self.forwarder = Forwarder((NODE_IP, api_port), ("127.0.0.1", api_port))
        self._kubectl("apply", "-f", "-", input=json.dumps(self._kubernetes_endpoints(api_port)))
        # 5. kubelet, then kube-proxy.
        self._spawn("kubelet", [
            str(self.binaries.kubelet), f"--config={self.workdir / 'kubelet.yaml'}",
            f"--kubeconfig={self.admin_kubeconfig}", f"--root-dir={self.workdir / 'kubelet'}",
            f"--cert-dir={self.workdir / 'kubelet' / 'pki'}", f"--node-ip={NODE_IP}",
            f"--hostname-override={NODE_NAME}", "--node-labels=autonomy.computer/test-node=real", "--v=1",
        ])  # fmt: skip
        cp.wait_for(f"node {NODE_NAME} Ready", self._node_ready, self._left(deadline), interval=0.2,
                    alive=self._check_alive)  # fmt: skip
        self._spawn("kube-proxy", [str(self.binaries.kube_proxy), f"--config={self.workdir / 'kube-proxy.yaml'}",
                                   "--v=1"])  # fmt: skip
        cp.wait_for("kube-proxy's rules for the `kubernetes` Service", self._proxy_synced, self._left(deadline),
                    interval=0.2, alive=self._check_alive)  # fmt: skip
        self._drop_rule_first()
        self._write_kubeconfig()

    def stop(self) -> None:
        if self.forwarder is not None:
            self.forwarder.close()
        if self.state:
            tear_down(self.state)
        for popen in self.popens:
            with contextlib.suppress(Exception):
                popen.wait(timeout=1)
        with contextlib.suppress(FileNotFoundError):
            (STATE_DIR / "state.json").unlink()

    @property
    def pause_ref(self) -> str:
        return f"{PAUSE_REPO}:{pause_hash()}"

    # ---- pieces

    def _left(self, deadline: float) -> float:
        return max(deadline - time.monotonic(), 0.1)

    def _spawn(self, name: str, argv: Sequence[str], group: str = "components") -> None:
        log = self.workdir / "logs" / f"{name}.log"
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        with log.open("ab") as out:
            popen = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=env, start_new_session=True,
                                     preexec_fn=cp._die_with_parent)  # fmt: skip
        self.popens.append(popen)
        self.state[group].append({"name": name, "pid": popen.pid, "start": _proc_start_time(popen.pid),
                                  "log": str(log)})  # fmt: skip
        write_state(self.state)

    def _check_alive(self) -> None:
        for popen, entry in zip(self.popens, self.state["containerd"] + self.state["components"], strict=False):
            if popen.poll() is not None:
                log = Path(entry["log"])
                tail = log.read_text(errors="replace").splitlines()[-20:]
                raise RealNodeError(f"{entry['name']} exited during start-up; last lines of {log}:\n  "
                                    + "\n  ".join(tail))  # fmt: skip

    def _ctr_argv(self) -> list[str]:
        return [str(self.binaries.ctr), "--address", str(self.socket), "--namespace", CONTAINERD_NAMESPACE]

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([*self._ctr_argv(), *args], timeout=60)

    def _kubectl(self, *args: str, input: str | None = None) -> str:
        kubectl = str(cp.find_kubectl())
        result = _run([kubectl, f"--kubeconfig={self.admin_kubeconfig}",
                       f"--cache-dir={self.workdir / 'kube-cache'}", *args], input=input)  # fmt: skip
        if result.returncode != 0:
            raise RealNodeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def _bridge(self) -> None:
        """The pods' bridge, made before the first pod (the bridge plugin adopts it), so that the service
        range can be routed to it: a ClusterIP kube-proxy has no rule for yet then goes nowhere, never
        out of the machine by the default route."""
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        _run(["ip", "addr", "add", f"{POD_GATEWAY}/{POD_SUBNET.split('/')[1]}", "dev", BRIDGE], check=True)
        _run(["ip", "link", "set", BRIDGE, "up"], check=True)
        _run(["ip", "route", "add", cp.SERVICE_CIDR, "dev", BRIDGE, "src", POD_GATEWAY], check=True)

    def _drop_rule(self) -> None:
        """Pods reach each other, the host and ClusterIPs; whatever they send beyond the bridge is dropped."""
        for family in ("iptables", "ip6tables"):
            binary = shutil.which(family) or shutil.which(family, path="/usr/sbin:/sbin")
            if binary is None:
                continue
            _run([binary, "-w", "5", "-N", CHAIN])
            _run([binary, "-w", "5", "-A", CHAIN, "-i", BRIDGE, "!", "-o", BRIDGE, "-j", "DROP"], check=True)
            _run([binary, "-w", "5", "-I", "FORWARD", "1", "-j", CHAIN], check=True)

    def _drop_rule_first(self) -> None:
        """kube-proxy inserts its FORWARD jumps at the top: put ours back in front of them."""
        for family in ("iptables", "ip6tables"):
            binary = shutil.which(family) or shutil.which(family, path="/usr/sbin:/sbin")
            if binary is not None:
                _run([binary, "-w", "5", "-D", "FORWARD", "-j", CHAIN])
                _run([binary, "-w", "5", "-I", "FORWARD", "1", "-j", CHAIN], check=True)

    def _write_files(self) -> None:
        pki = self.workdir / "pki"
        cluster_pki = self.cluster_dir / "pki"
        for name in ("ca.crt", "ca.key"):
            shutil.copy(cluster_pki / name, pki / name)
        # The kubelet's serving certificate, checked by the API server (--kubelet-certificate-authority).
        cp._signed_cert(pki, "kubelet", f"/CN={NODE_NAME}", "serverAuth", [f"IP:{NODE_IP}", f"DNS:{NODE_NAME}"])
        (pki / "ca.key").unlink()
        d = self.workdir
        (d / "resolv.conf").write_text("nameserver 127.0.0.1\n")  # no cluster DNS, and nothing leaves the machine
        conflist = {
            "cniVersion": "0.4.0",
            "name": "autonomy-realnode",
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                          "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(d / "cni" / "ipam")}},
                # A dockerd sets FORWARD's policy to DROP: the firewall plugin lets the pods' own traffic through.
                {"type": "firewall"},
            ],
        }  # fmt: skip
        (d / "cni" / "net.d" / "10-autonomy.conflist").write_text(json.dumps(conflist, indent=2))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        (d / "containerd.toml").write_text(f"""version = 2
root = "{d / 'containerd' / 'root'}"
state = "{d / 'containerd' / 'state'}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.socket}"
[metrics]
  address = ""
[{cri}]
  sandbox_image = "{self.pause_ref}"
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{self.binaries.runc}"
        Root = "{d / 'containerd' / 'runc'}"
  [{cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{d / 'cni' / 'net.d'}"
    max_conf_num = 1
""")
        kubelet = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": _free_port(NODE_IP),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": _free_port("127.0.0.1"),
            "tlsCertFile": str(pki / "kubelet.crt"),
            "tlsPrivateKeyFile": str(pki / "kubelet.key"),
            # Only holders of a certificate from the test CA (the API server) are let in.
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": str(pki / "ca.crt")}},
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs",  # no systemd here
            "failCgroupV1": False,  # cgroup v1 hybrid hosts; later releases flip the default
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "podLogsDir": str(d / "pod-logs"),
            "resolvConf": str(d / "resolv.conf"),
            "clusterDomain": "cluster.local",
            # Images arrive by `ctr images import` and cannot be pulled again: never collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "serializeImagePulls": False,
            "kubeAPIQPS": 50,
            "kubeAPIBurst": 100,
            "maxPods": 110,
        }  # fmt: skip
        (d / "kubelet.yaml").write_text(json.dumps(kubelet, indent=2))
        proxy = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.admin_kubeconfig)},
            "hostnameOverride": NODE_NAME,
            "mode": "iptables",
            "clusterCIDR": POD_SUBNET,
            "healthzBindAddress": f"127.0.0.1:{_free_port('127.0.0.1')}",
            "metricsBindAddress": f"127.0.0.1:{_free_port('127.0.0.1')}",
            "nodePortAddresses": [f"{NODE_IP}/32"],
            "iptables": {"localhostNodePorts": False, "minSyncPeriod": "0s", "syncPeriod": "30s"},
            # Leave the host's conntrack settings as they are.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        }  # fmt: skip
        (d / "kube-proxy.yaml").write_text(json.dumps(proxy, indent=2))

    @staticmethod
    def _kubernetes_endpoints(port: int) -> dict[str, Any]:
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes-realnode", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes",
                                    "endpointslice.kubernetes.io/managed-by": "autonomy-realnode"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }  # fmt: skip

    def _node_ready(self) -> bool:
        try:
            node = json.loads(self._kubectl("get", "node", NODE_NAME, "-o", "json"))
        except RealNodeError:  # not registered yet
            return False
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        blocking = [t for t in node["spec"].get("taints", []) if t["effect"] in ("NoSchedule", "NoExecute")]
        return conditions.get("Ready") == "True" and not blocking

    def _proxy_synced(self) -> bool:
        out = _run(["iptables-save", "-t", "nat"]).stdout
        return f"-d {cp.SERVICE_IP}/32" in out and "KUBE-SVC-" in out

    def _write_kubeconfig(self) -> None:
        config = json.loads(self.admin_kubeconfig.read_text())
        config["clusters"][0]["cluster"]["extensions"] = [{
            "name": KUBECONFIG_EXTENSION,
            "extension": {"address": str(self.socket), "namespace": CONTAINERD_NAMESPACE,
                          "ctr": str(self.binaries.ctr), "node": NODE_NAME},
        }]  # fmt: skip
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)


# --------------------------------------------------------------------------------------------- commands


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(cluster_dir: Path, workdir: Path, lock_timeout: float, ready_file: Path | None = None) -> int:
    """Supervise a node: lock, clean leftovers, start, wait for SIGTERM/SIGINT (or parent death), tear down."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    problems = host_problems()
    if problems:
        raise RealNodeError("this host cannot run a real node: " + "; ".join(problems))
    binaries = NodeBinaries.find()
    with machine_lock(lock_timeout):
        clean_leftovers()
        node = RealNode(cluster_dir=cluster_dir.resolve(), workdir=workdir.resolve(), binaries=binaries)
        started = time.monotonic()
        try:
            try:
                node.start()
            except (cp.ControlPlaneError, OSError, subprocess.SubprocessError) as error:
                raise RealNodeError(str(error)) from error
            say(f"node {NODE_NAME} Ready in {time.monotonic() - started:.1f} s; kubeconfig {node.kubeconfig}")
            if ready_file is not None:
                ready_file.write_text(str(node.kubeconfig))
            while True:
                signal.pause()
        except KeyboardInterrupt:
            return 0
        finally:
            stopping = time.monotonic()
            node.stop()
            say(f"node torn down in {time.monotonic() - stopping:.1f} s")


def up(cluster_dir: Path, workdir: Path, timeout: float = 180.0) -> Path:
    """`run`, detached from this process (for `make cluster-up REAL_NODES=1`); returns the kubeconfig."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir.parent / f".{workdir.name}.ready"
    ready.unlink(missing_ok=True)
    log = workdir.parent / f"{workdir.name}-supervisor.log"
    with log.open("ab") as out:
        popen = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "run", "--cluster-dir",
                                  str(cluster_dir), "--dir", str(workdir), "--ready-file", str(ready)],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if popen.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise RealNodeError(f"the real node did not start; last lines of {log}:\n  " + "\n  ".join(tail))
        if time.monotonic() > deadline:
            popen.terminate()
            raise RealNodeError(f"the real node was not Ready after {timeout:.0f} s (log: {log})")
        time.sleep(0.2)
    ready.unlink()
    return workdir / "kubeconfig"


def down(timeout: float = 60.0) -> bool:
    """Stop the supervisor that runs (it tears down); clean up ourselves if it is gone or stuck."""
    state = read_state()
    if state is None:
        return False
    pid = int(state.get("supervisor", 0))
    if pid and _proc_start_time(pid) == state.get("supervisor_start"):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _proc_start_time(pid) == state.get("supervisor_start") and time.monotonic() < deadline:
            time.sleep(0.1)
        if _proc_start_time(pid) == state.get("supervisor_start"):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
    with machine_lock(timeout):
        clean_leftovers()
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "up", "down", "clean", "host-state"])
    parser.add_argument("--cluster-dir", type=Path, default=cp.DEFAULT_CLUSTER_DIR,
                        help="controlplane.py's directory (default: %(default)s)")  # fmt: skip
    parser.add_argument("--dir", type=Path, default=None, help="the node's directory (default: CLUSTER_DIR/node)")
    parser.add_argument("--ready-file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lock-timeout", type=float, default=600.0,
                        help="seconds to wait for another real node to stop (default: %(default)s)")  # fmt: skip
    args = parser.parse_args(argv)
    cluster_dir: Path = args.cluster_dir.resolve()
    workdir: Path = (args.dir or cluster_dir / "node").resolve()
    try:
        if args.command == "run":
            return run(cluster_dir, workdir, args.lock_timeout, args.ready_file)
        if args.command == "up":
            kubeconfig = up(cluster_dir, workdir)
            print(f"export KUBECONFIG={kubeconfig}")
            return 0
        if args.command == "down":
            say("real node stopped" if down() else "no real node recorded")
            return 0
        if args.command == "clean":
            with machine_lock(args.lock_timeout):
                say("leftovers removed" if clean_leftovers() else "nothing to clean")
            return 0
        print(json.dumps(host_state(), indent=2))
        return 0
    except KeyboardInterrupt:
        return 130
    except RealNodeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
