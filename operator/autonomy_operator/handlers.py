"""The kopf handlers: thin glue between watch events and `reconcile`.

    Zone create/update/resume -> reconcile_zone (apply children, prune, one status patch)
    Deployment event          -> recompute the owning Zone's status (patched only if changed)
    Cluster create/resume     -> generate status.clusterId once
    CSR of our signer         -> node_certificates: review, approve and sign, or deny (signer.py)
    Zone seen / deleted       -> node_certificates: the zone's CA, trust bundle, CSR binding / their removal
    indexes                   -> Deployments by zone, HPA targets, the Cluster (filled before any
                                 handler runs, so a restarted operator sees what already exists)

Errors steer kopf: `SpecError` -> `Accepted=False`, a Warning event, PermanentError (no retries);
`Transient` -> TemporaryError (retried with a delay).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import kopf

from autonomy.errors import SpecError
from autonomy.identity import SIGNER_NAME
from autonomy.spec import ClusterSpec
from autonomy_operator import metrics
from autonomy_operator.builders import MANAGED_BY, MANAGED_BY_LABEL, ZONE_LABEL
from autonomy_operator.config import OperatorConfig
from autonomy_operator.kube import Kube, KubeError, Transient
from autonomy_operator.node_certificates import NodeCertificates
from autonomy_operator.reconcile import (
    ClusterInfo,
    IndexedDeployment,
    ZoneRef,
    fresh_states,
    reconcile_zone,
    spec_of,
    write_status,
)
from autonomy_operator.status import Acceptance, DeploymentState, compute_status, now

__all__ = ["STATE", "OperatorState"]

GROUP, VERSION = "autonomy.computer", "v1alpha1"
_OURS: dict[str, Any] = {MANAGED_BY_LABEL: MANAGED_BY, ZONE_LABEL: kopf.PRESENT}
log = logging.getLogger("autonomy_operator")
# Not under "autonomy.computer/": kopf ignores annotations under its own storage prefix.
CLUSTER_GENERATION = f"cluster.{GROUP}/generation"


class OperatorState:
    """What the handlers share: the API client, the settings, and the zones seen (for status
    updates driven by Deployment events and for the Cluster's zone list)."""

    def __init__(self) -> None:
        self.config = OperatorConfig()
        self.kube: Kube | None = None
        self.zones: dict[tuple[str, str], ZoneRef] = {}
        self.cluster_task: asyncio.Task[None] | None = None
        self.pending_status: set[tuple[str, str]] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.reconciles = asyncio.Semaphore(20)
        self.certificates: NodeCertificates | None = None
        self.cluster_id: str | None = None

    def client(self) -> Kube:
        if self.kube is None:
            raise kopf.TemporaryError("the API client is not connected yet", delay=1)
        return self.kube


STATE = OperatorState()


@kopf.on.startup()  # type: ignore[arg-type]
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    config = OperatorConfig.from_env()
    STATE.config = config
    settings.peering.standalone = True
    # Not kopf's queueing.worker_limit: kopf holds every object's worker until its indexes are
    # filled, so a limit below the number of indexed objects deadlocks a restart. Reconciles are
    # limited by a semaphore instead.
    STATE.reconciles = asyncio.Semaphore(max(config.workers, 1))
    settings.posting.level = logging.WARNING
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-spec"
    )
    settings.watching.server_timeout = 600
    settings.networking.request_timeout = 60
    settings.execution.max_workers = max(config.workers, 4)
    STATE.kube = await Kube.connect(config.qps, config.burst)
    metrics.serve(config.metrics_port)
    STATE.cluster_task = asyncio.create_task(_cluster_zones_loop())


@kopf.on.cleanup()  # type: ignore[arg-type]
async def close(**_: Any) -> None:
    pending = [*STATE.tasks, *([STATE.cluster_task] if STATE.cluster_task is not None else [])]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if STATE.kube is not None:
        await STATE.kube.close()
        STATE.kube = None


# --- node certificates (node_certificates.py, signer.py) -----------------------------------------


@kopf.on.startup()  # type: ignore[arg-type]
async def start_node_certificates(**_: Any) -> None:
    """After `configure`: the signer runs when the operator knows the namespace that keeps the CAs."""
    if not STATE.config.signer_enabled:
        log.warning("node certificate signer off: AUTONOMY_OPERATOR_CA_NAMESPACE is not set and this is not a pod")
        return
    STATE.certificates = NodeCertificates(STATE.client(), STATE.config)
    STATE.certificates.start(lambda: STATE.cluster_id)


@kopf.on.cleanup()  # type: ignore[arg-type]
async def stop_node_certificates(**_: Any) -> None:
    if STATE.certificates is not None:
        await STATE.certificates.stop()
        STATE.certificates = None


@kopf.on.event(  # type: ignore[arg-type]
    "certificates.k8s.io", "v1", "certificatesigningrequests", field="spec.signerName", value=SIGNER_NAME
)
async def node_csr(
    type: str | None, name: str, body: kopf.Body, clusters: kopf.Index[None, ClusterInfo], **_: Any
) -> None:
    if STATE.certificates is None or type == "DELETED":
        return
    STATE.cluster_id = _cluster_id(clusters)
    await STATE.certificates.csr_event(name, body)


@kopf.on.event(GROUP, VERSION, "zones")  # type: ignore[arg-type]
async def zone_identity(
    type: str | None, namespace: str, name: str, meta: kopf.Meta, clusters: kopf.Index[None, ClusterInfo], **_: Any
) -> None:
    if STATE.certificates is None:
        return
    STATE.cluster_id = _cluster_id(clusters)
    STATE.certificates.zone_event(type, namespace, name, str(meta.get("uid") or ""))


def _cluster_id(index: kopf.Index[None, ClusterInfo]) -> str | None:
    cluster = _cluster(index)
    return cluster.cluster_id if cluster is not None else None


# --- indexes --------------------------------------------------------------------------------------


@kopf.index("apps", "v1", "deployments", labels=_OURS)  # type: ignore[arg-type]
def zone_deployments(
    namespace: str, labels: Mapping[str, str], body: kopf.Body, meta: kopf.Meta, **_: Any
) -> dict[tuple[str, str], IndexedDeployment]:
    owners = [r.get("uid") for r in meta.get("ownerReferences", []) if r.get("kind") == "Zone"]
    return {
        (namespace, labels[ZONE_LABEL]): IndexedDeployment(
            DeploymentState.from_body(body), owners[0] if owners else None
        )
    }


@kopf.index("autoscaling", "v2", "horizontalpodautoscalers")  # type: ignore[arg-type]
def hpa_targets(namespace: str, spec: kopf.Spec, **_: Any) -> dict[tuple[str, str], bool] | None:
    target = spec.get("scaleTargetRef") or {}
    if target.get("kind") != "Deployment":
        return None
    return {(namespace, target.get("name", "")): True}


@kopf.index(GROUP, VERSION, "clusters")  # type: ignore[arg-type]
def clusters(name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[None, ClusterInfo]:
    try:
        cluster_spec = ClusterSpec.model_validate(dict(spec))
    except ValueError:
        cluster_spec = ClusterSpec()
    return {None: ClusterInfo(name, status.get("clusterId"), cluster_spec)}


def _cluster(index: kopf.Index[Any, ClusterInfo]) -> ClusterInfo | None:
    found = sorted(index.get(None, []), key=lambda c: c.name)
    wanted = STATE.config.cluster
    for info in found:
        if not wanted or info.name == wanted:
            return info
    return None


# --- Cluster --------------------------------------------------------------------------------------


@kopf.on.create(GROUP, VERSION, "clusters")
@kopf.on.resume(GROUP, VERSION, "clusters")  # type: ignore[arg-type]
def cluster_id(status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
    """Generate the cluster's id once; an id already there is never replaced."""
    if not status.get("clusterId"):
        patch.status["clusterId"] = uuid.uuid4().hex
    if not status.get("conditions"):
        patch.status["conditions"] = [
            {
                "type": "Ready",
                "status": "True",
                "reason": "IdAssigned",
                "lastTransitionTime": now(),
                "message": "the cluster has its id; zones can be reconciled",
            }
        ]


@kopf.on.update(GROUP, VERSION, "clusters", field="spec")  # type: ignore[arg-type]
async def cluster_changed(name: str, meta: kopf.Meta, **_: Any) -> None:
    """Domain, registry or sizes changed: every zone's children may change, so each Zone is
    touched with the Cluster's generation, which makes kopf run its update handler."""
    if STATE.config.cluster and name != STATE.config.cluster:
        return
    kube = STATE.client()
    generation = str(meta.get("generation"))
    for namespace, zone in sorted(STATE.zones):
        try:
            await kube.patch_metadata(
                f"{GROUP}/{VERSION}",
                "Zone",
                namespace,
                zone,
                {"annotations": {CLUSTER_GENERATION: generation}},
            )
        except KubeError as error:
            log.warning("zone %s/%s not told of the Cluster change: %s", namespace, zone, error)


async def _cluster_zones_loop(interval: float = 10.0) -> None:
    """Keep the Cluster's zone list current (no write when unchanged)."""
    last: list[str] | None = None
    while True:
        await asyncio.sleep(interval)
        try:
            zones = sorted(f"{ns}/{name}" for ns, name in STATE.zones)
            metrics.ZONES.set(len(zones))
            if zones == last or STATE.kube is None:
                continue
            names = [c for c in await _cluster_names()]
            for name in names:
                await STATE.kube.patch_status(
                    f"{GROUP}/{VERSION}", "Cluster", None, name, {"zones": zones, "zoneCount": len(zones)}
                )
                metrics.STATUS_PATCHES.labels("Cluster").inc()
            last = zones
        except KubeError as error:
            log.warning("could not update the Cluster's zone list: %s", error)


async def _cluster_names() -> list[str]:
    kube = STATE.client()
    found = await kube._call("GET", f"/apis/{GROUP}/{VERSION}/clusters")
    names = sorted(item["metadata"]["name"] for item in found.get("items", []))
    wanted = STATE.config.cluster
    return [n for n in names if n == wanted] if wanted else names[:1]


# --- Zone -----------------------------------------------------------------------------------------


def _zone_ref(namespace: str, name: str, body: kopf.Body) -> ZoneRef:
    meta = body.get("metadata", {})
    return ZoneRef(
        namespace=namespace,
        name=name,
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
    )


@kopf.on.event(GROUP, VERSION, "zones")  # type: ignore[arg-type]
def zone_seen(type: str | None, namespace: str, name: str, body: kopf.Body, **_: Any) -> None:
    """Remember each zone's latest body (the Deployment handler computes status from it)."""
    if type == "DELETED":
        STATE.zones.pop((namespace, name), None)
    else:
        STATE.zones[(namespace, name)] = _zone_ref(namespace, name, body)


@kopf.on.create(GROUP, VERSION, "zones")
@kopf.on.update(GROUP, VERSION, "zones")
@kopf.on.resume(GROUP, VERSION, "zones")  # type: ignore[arg-type]
async def reconcile(
    namespace: str,
    name: str,
    body: kopf.Body,
    old: Mapping[str, Any] | None,
    reason: str,
    zone_deployments: kopf.Index[tuple[str, str], IndexedDeployment],
    hpa_targets: kopf.Index[tuple[str, str], bool],
    clusters: kopf.Index[None, ClusterInfo],
    **_: Any,
) -> None:
    started = time.monotonic()
    zone = _zone_ref(namespace, name, body)
    cluster = _cluster(clusters)
    kube = STATE.client()
    indexed = list(zone_deployments.get((namespace, name), []))
    if cluster is None or cluster.cluster_id is None:
        metrics.RECONCILES.labels("waiting").inc()
        raise kopf.TemporaryError("no Cluster resource with a clusterId yet; waiting for it", delay=10)
    autoscaled = frozenset(
        f"{name}-{p.get('name')}"
        for p in zone.spec.get("pods", [])
        if (namespace, f"{name}-{p.get('name')}") in hpa_targets
    )
    old_spec = (old or {}).get("spec") if reason == "update" else None
    try:
        async with STATE.reconciles:
            await reconcile_zone(
                kube, zone, cluster, indexed, autoscaled, old_spec, resume=reason == "resume"
            )
    except SpecError as error:
        metrics.RECONCILES.labels("rejected").inc()
        kopf.warn(body, reason=error.reason, message=str(error))
        raise kopf.PermanentError(f"{error.reason}: {error}") from None
    except Transient as error:
        metrics.RECONCILES.labels("retry").inc()
        raise kopf.TemporaryError(f"API trouble, will retry: {error}", delay=5) from None
    finally:
        metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)
    metrics.RECONCILES.labels("ok").inc()


@kopf.on.event("apps", "v1", "deployments", labels=_OURS)  # type: ignore[arg-type]
async def deployment_changed(
    namespace: str,
    labels: Mapping[str, str],
    zone_deployments: kopf.Index[tuple[str, str], IndexedDeployment],
    hpa_targets: kopf.Index[tuple[str, str], bool],
    **_: Any,
) -> None:
    """A Deployment moved: refresh its Zone's status a moment later.

    A rollout moves a Deployment's status many times a second; waiting `STATUS_DELAY` and then
    computing from the latest state folds those into one patch per zone (and none if unchanged).
    """
    key = (namespace, labels[ZONE_LABEL])
    if key in STATE.pending_status:
        return
    STATE.pending_status.add(key)
    task = asyncio.create_task(_refresh_status(key, zone_deployments, hpa_targets))
    STATE.tasks.add(task)
    task.add_done_callback(STATE.tasks.discard)


STATUS_DELAY = 1.0


async def _refresh_status(
    key: tuple[str, str],
    zone_deployments: kopf.Index[tuple[str, str], IndexedDeployment],
    hpa_targets: kopf.Index[tuple[str, str], bool],
) -> None:
    await asyncio.sleep(STATUS_DELAY)
    STATE.pending_status.discard(key)
    namespace = key[0]
    zone = STATE.zones.get(key)
    if zone is None or STATE.kube is None:
        return
    accepted = next((c for c in zone.status.get("conditions", []) if c.get("type") == "Accepted"), None)
    if accepted is None or accepted.get("status") != "True":
        return  # not reconciled yet, or rejected: the reconcile owns the status then
    try:
        spec = spec_of(zone.name, zone.spec)
    except SpecError:
        return
    ours = [d.state for d in zone_deployments.get(key, []) if d.owner_uid in (None, zone.uid)]
    states = fresh_states(namespace, ours)
    autoscaled = frozenset(d.name for d in states if (namespace, d.name) in hpa_targets)
    status = compute_status(
        spec,
        states,
        Acceptance(True, accepted.get("reason", "Valid"), accepted.get("message", "")),
        zone.status.get("observedGeneration"),
        previous=zone.status,
        url=zone.status.get("url"),
        cluster_id=zone.status.get("clusterId"),
        autoscaled=autoscaled,
    )
    try:
        await write_status(STATE.kube, zone, status)
    except KubeError as error:
        log.info("status of zone %s/%s not updated: %s", namespace, zone.name, error)
