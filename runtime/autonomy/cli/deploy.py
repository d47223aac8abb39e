"""`zone deploy`: from a validated ZoneSpec to a Zone (and its Secret) in the cluster, and waiting.

Pure parts (manifests, image rewriting, reading a Zone's status) are separate from the calls that
touch Docker or the cluster, so that a dry run and the tests can use them alone.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autonomy.cli.exits import CliError, Exit

if TYPE_CHECKING:  # the kubernetes client loads only when a command connects (`cluster show` imports this)
    from autonomy.cli.images import BuiltImage
    from autonomy.cli.kube import Kube


def secret_name(spec: Any) -> str:
    """The name of the zone's Secret that `secrets.KEY` env values refer to (fixed by autonomy.spec)."""
    from autonomy.spec import secret_name as spec_secret_name

    return spec_secret_name(str(spec.name))


def local_images(spec: Any) -> list[str]:
    """Names of the images built from images/<name>/ (no '/' in the name), in order of first use."""
    names: list[str] = []
    for pod in spec.pods:
        for container in pod.containers:
            image = str(container.image)
            if "/" not in image and image not in names:
                names.append(image)
    return names


def zone_manifest(spec: Any, namespace: str, image_refs: dict[str, str]) -> dict[str, Any]:
    """The Zone to apply: the spec's own manifest with local image names replaced by built refs."""
    manifest: dict[str, Any] = copy.deepcopy(spec.zone_manifest(namespace))
    for pod in manifest.get("spec", {}).get("pods", []):
        for container in pod.get("containers", []):
            image = container.get("image")
            if image in image_refs:
                container["image"] = image_refs[image]
    return manifest


def secret_manifest(
    name: str, namespace: str, zone: str, data: dict[str, str], *, redact: bool
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": secret_labels(zone)},
        "stringData": {k: ("<redacted>" if redact else v) for k, v in sorted(data.items())},
    }


def secret_labels(zone: str) -> dict[str, str]:
    from autonomy.spec import GROUP

    return {f"{GROUP}/zone": zone, "app.kubernetes.io/managed-by": "autonomy-cli"}


def ship_images(kube: Kube, built: list[BuiltImage], registry: str | None) -> list[str]:
    """Make built images reachable by the cluster's nodes; returns one line per image saying how.

    A registry (given, or the Cluster's) gets them pushed; else the containerd a local test node names
    in the kubeconfig (hack/k8s/realnode.py) gets them imported; else a kind cluster gets them loaded;
    else they stay in the local Docker only (a warning: the pods will not find them)."""
    from autonomy.cli import docker

    target = kube.target
    lines = []
    for item in built:
        if registry:
            docker.push(item.ref)
            lines.append(f"image {item.name}: pushed {item.ref}")
        elif target.local_containerd is not None:
            local = target.local_containerd
            docker.containerd_import(item.ref, local.address, local.namespace, local.ctr)
            lines.append(f"image {item.name}: imported {item.ref} into the local node's containerd")
        elif target.kind_cluster:
            docker.kind_load(item.ref, target.kind_cluster)
            lines.append(f"image {item.name}: loaded {item.ref} into kind cluster {target.kind_cluster}")
        else:
            lines.append(
                f"image {item.name}: built {item.ref} (local only: no registry configured; "
                "pass --registry or set the Cluster's spec.registry)"
            )
    return lines


# -- reading a Zone's status ----------------------------------------------------------------------


def condition(zone: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in zone.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_ready(zone: dict[str, Any]) -> bool:
    status = zone.get("status", {})
    generation = zone.get("metadata", {}).get("generation", 0)
    observed = status.get("observedGeneration", 0) or 0
    ready = condition(zone, "Ready")
    return observed >= generation and ready is not None and ready.get("status") == "True"


def rejected(zone: dict[str, Any]) -> dict[str, Any] | None:
    """The Accepted=False condition of the current generation, if the operator refused the spec."""
    accepted = condition(zone, "Accepted")
    generation = zone.get("metadata", {}).get("generation", 0)
    observed = zone.get("status", {}).get("observedGeneration", 0) or 0
    if accepted and accepted.get("status") == "False" and observed >= generation:
        return accepted
    return None


def progress_line(zone: dict[str, Any]) -> str:
    status = zone.get("status", {})
    pods = status.get("pods") or {}
    parts = []
    if isinstance(pods, dict):
        for name, info in sorted(pods.items()):
            if isinstance(info, dict):
                parts.append(f"{name} {info.get('readyClones', 0)}/{info.get('clones', '?')}")
    elif isinstance(pods, list):
        for info in pods:
            if isinstance(info, dict):
                parts.append(f"{info.get('name')} {info.get('readyClones', 0)}/{info.get('clones', '?')}")
    ready = condition(zone, "Ready")
    state = (
        f"Ready={ready.get('status')} ({ready.get('reason', '')})" if ready else "waiting for the operator"
    )
    return state + (": " + ", ".join(parts) if parts else "")


@dataclass
class WaitResult:
    zone: dict[str, Any]
    seconds: float


def wait_ready(
    kube: Kube, name: str, timeout: float, on_progress: Callable[[str], None], interval: float = 0.25
) -> WaitResult:
    """Poll the Zone until Ready for its current generation; fail with its conditions and pod events."""
    started = time.monotonic()
    last = ""
    zone: dict[str, Any] | None = None
    while True:
        zone = kube.get_zone(name)
        if zone is None:
            raise CliError(f"Zone {name} disappeared while waiting", Exit.NOT_FOUND)
        if is_ready(zone):
            return WaitResult(zone=zone, seconds=time.monotonic() - started)
        refused = rejected(zone)
        if refused:
            raise CliError(
                f"the operator did not accept Zone {name}: {refused.get('reason')}",
                Exit.CONFIG,
                details=[str(refused.get("message", ""))],
            )
        line = progress_line(zone)
        if line != last:
            on_progress(line)
            last = line
        if time.monotonic() - started > timeout:
            raise CliError(
                f"Zone {name} was not Ready after {timeout:.0f} s",
                Exit.TIMEOUT,
                details=failure_details(kube, zone),
            )
        time.sleep(interval)


def failure_details(kube: Kube, zone: dict[str, Any]) -> list[str]:
    details = [
        f"condition {c.get('type')}={c.get('status')} {c.get('reason', '')}: {c.get('message', '')}"
        for c in zone.get("status", {}).get("conditions", []) or []
    ]
    for pod in kube.zone_pods(zone["metadata"]["name"]):
        statuses = pod.status.container_statuses or []
        ready = bool(statuses) and all(s.ready for s in statuses)
        if ready:
            continue
        details.append(f"pod {pod.metadata.name}: {pod.status.phase}")
        for s in statuses:
            waiting = s.state.waiting if s.state else None
            if waiting:
                details.append(f"  {s.name}: {waiting.reason} {waiting.message or ''}".rstrip())
        details.extend(f"  event {e}" for e in kube.pod_events(pod.metadata.name)[-5:])
    return details
