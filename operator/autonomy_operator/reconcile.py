"""One idempotent reconcile of a Zone, for create, update and resume alike.

Read (the Zone, its Cluster, its Secret's keys, what the watches already know), build the children
(pure), check that every child's name is free or already this zone's (`ownership`: one object the
operator did not create stops the whole zone before anything is written), server-side apply them in
stages (`apply_stages`: a RoleBinding only once its Role exists, pods only once their account and
rights do), delete what the spec no longer wants (only objects of this zone), and write the status in
one patch when it changed.

A spec that cannot be realized raises `SpecError` after recording `Accepted=False`. Any API failure
(a 5xx, a quota, a Role not there yet) is recorded as `Progressing=True/Retrying` naming the object and
the answer, with a Warning event when that message is new, and raised as `Transient`. The kopf layer
maps those to PermanentError and TemporaryError (retried in seconds, not kopf's default minute).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autonomy.errors import SpecError
from autonomy.spec import ClusterSpec, ZoneConfigError, ZoneSpec, parse_zone, secret_name
from autonomy_operator import metrics
from autonomy_operator.builders import (
    ChildKey,
    Manifest,
    ZoneContext,
    build_children,
    child_key,
    zone_url,
)
from autonomy_operator.kube import Conflict, Invalid, Kube, KubeError, Transient
from autonomy_operator.ownership import Ownership, collision_message, ownership_of
from autonomy_operator.status import Acceptance, DeploymentState, compute_status, status_patch

__all__ = [
    "ClusterInfo",
    "IndexedDeployment",
    "ZoneRef",
    "apply_stages",
    "reconcile_zone",
    "spec_of",
    "write_status",
]

ZONE_API = "autonomy.computer/v1alpha1"
#: Kinds applied after the others, in this order: a RoleBinding is refused until its Role exists (the
#: API server checks the binder holds the Role's rights), and pods need their account and its rights.
_LATER_KINDS = ("RoleBinding", "Deployment")


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    cluster_id: str | None
    spec: ClusterSpec = field(default_factory=ClusterSpec)


@dataclass(frozen=True)
class IndexedDeployment:
    """A Deployment of some zone, as the operator's watch keeps it."""

    state: DeploymentState
    owner_uid: str | None


@dataclass(frozen=True)
class ZoneRef:
    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


def spec_of(name: str, spec: Mapping[str, Any]) -> ZoneSpec:
    """The Zone resource's spec as a `ZoneSpec` (the CRD already refused most bad input)."""
    try:
        return parse_zone({"name": name, **spec})
    except ZoneConfigError as error:
        raise SpecError("; ".join(error.problems), "InvalidSpec") from None


def _hash(children: Sequence[Manifest]) -> str:
    return hashlib.sha256(json.dumps(children, sort_keys=True).encode()).hexdigest()[:16]


async def _check_secret(kube: Kube, spec: ZoneSpec, namespace: str) -> None:
    keys = spec.secret_keys()
    if not keys:
        return
    name = secret_name(spec.name)
    secret = await kube.get("v1", "Secret", namespace, name)
    if secret is None:
        raise SpecError(
            f"env reads secrets.{sorted(keys)[0]} but Secret {name!r} does not exist "
            f"(create it from secrets.yaml: autonomy zone deploy, or kubectl create secret generic {name})",
            "SecretNotFound",
        )
    present = set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())
    missing = sorted(keys - present)
    if missing:
        raise SpecError(
            f"Secret {name!r} has no key {', '.join(missing)} (add it to secrets.yaml; keys present: "
            f"{', '.join(sorted(present)) or 'none'})",
            "UnknownSecretKey",
        )


def apply_stages(children: Sequence[Manifest]) -> list[list[Manifest]]:
    """The children in groups applied one after the other; each group's members at once."""
    first = [c for c in children if c["kind"] not in _LATER_KINDS]
    later = [[c for c in children if c["kind"] == kind] for kind in _LATER_KINDS]
    return [stage for stage in [first, *later] if stage]


async def _check_names(kube: Kube, children: Sequence[Manifest], zone: ZoneRef) -> None:
    """Every child's name is free or this zone's already; else nothing is written.

    Foreign objects are a `SpecError` (NameCollision) naming them all; objects of an earlier Zone of
    this name, or being deleted, are waited for (`Transient`).
    """

    async def read(child: Manifest) -> dict[str, Any] | None:
        try:
            return await kube.get(child["apiVersion"], child["kind"], zone.namespace, child["metadata"]["name"])
        except KubeError as error:
            raise Transient(f"{_name(child)} could not be read: {error}", error.status) from None

    lives = await asyncio.gather(*(read(c) for c in children))
    verdicts = [(c, ownership_of(live, zone.uid, zone.name)) for c, live in zip(children, lives, strict=True)]
    foreign = [(c["kind"], c["metadata"]["name"]) for c, v in verdicts if v is Ownership.FOREIGN]
    if foreign:
        raise SpecError(collision_message(foreign), "NameCollision")
    leaving = [_name(c) for c, v in verdicts if v is Ownership.LEAVING]
    if leaving:
        raise Transient(
            f"{', '.join(leaving)}: still being deleted (left by an earlier zone of this name); "
            "waiting for the garbage collector"
        )


def _name(manifest: Manifest) -> str:
    return f"{manifest['kind']} {manifest['metadata']['name']!r}"


async def _apply(kube: Kube, manifest: Manifest, zone_uid: str) -> dict[str, Any] | None:
    """Apply one child; the object as the API server now has it (None if unknown)."""
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    try:
        result = await kube.apply(manifest)
    except Conflict:
        # Another manager owns a field we set. Ours (someone edited it, or `kubectl scale`)? Take
        # it back. Not ours? The name is taken by something else.
        live = await kube.get(manifest["apiVersion"], kind, manifest["metadata"]["namespace"], name)
        owners = [(r.get("uid")) for r in ((live or {}).get("metadata", {}).get("ownerReferences") or [])]
        if live is not None and zone_uid not in owners:
            raise SpecError(
                f"{kind} {name!r} already exists and does not belong to this zone "
                "(rename the zone or the pod, or delete that object)",
                "NameCollision",
            ) from None
        result = await kube.apply(manifest, force=True)
    except Invalid as error:
        if "controller" in str(error).lower() and "reference" in str(error).lower():
            raise SpecError(
                f"{kind} {name!r} already exists and belongs to another owner (rename the zone or the pod)",
                "NameCollision",
            ) from None
        raise SpecError(f"{kind} {name!r} was refused by the API server: {error}", "Invalid") from None
    except KubeError as error:  # a 403 of a quota, a 404 of a Role not yet seen, a 5xx: retried
        raise Transient(f"{kind} {name!r} could not be applied: {error}", error.status) from None
    metrics.APPLIES.labels(kind).inc()
    return result


async def _prune(kube: Kube, zone: ZoneRef, keys: Iterable[ChildKey]) -> None:
    """Delete the children the spec no longer wants: only objects of this zone, each by its uid."""
    for api_version, kind, name in sorted(keys):
        try:
            live = await kube.get(api_version, kind, zone.namespace, name)
            if ownership_of(live, zone.uid, zone.name) is not Ownership.OURS or live is None:
                continue  # gone already, or someone else's under a name the zone once used
            if await kube.delete(api_version, kind, zone.namespace, name, uid=live["metadata"]["uid"]):
                metrics.DELETES.labels(kind).inc()
        except Conflict:
            continue  # replaced since it was read: not ours any more
        except KubeError as error:
            raise Transient(f"{kind} {name!r} could not be deleted: {error}", error.status) from None


def _prune_candidates(
    ctx: ZoneContext, old_spec: Mapping[str, Any] | None, indexed: Iterable[IndexedDeployment]
) -> set[ChildKey]:
    keys: set[ChildKey] = set()
    if old_spec is not None:
        try:
            old = spec_of(ctx.zone, old_spec)
        except SpecError:
            old = None
        if old is not None:
            keys |= {
                child_key(c)
                for c in build_children(
                    ZoneContext(
                        spec=old,
                        namespace=ctx.namespace,
                        uid=ctx.uid,
                        cluster_id=ctx.cluster_id,
                        cluster=ctx.cluster.model_copy(update={"domain": ctx.cluster.domain or "x.invalid"}),
                    )
                )
            }
    keys |= {("apps/v1", "Deployment", d.state.name) for d in indexed if d.owner_uid == ctx.uid}
    return keys


async def write_status(kube: Kube, zone: ZoneRef, new: dict[str, Any]) -> bool:
    """One merge patch of what changed; no request at all when nothing did."""
    patch = status_patch(zone.status, new)
    if patch is None:
        return False
    await kube.patch_status(ZONE_API, "Zone", zone.namespace, zone.name, patch)
    metrics.STATUS_PATCHES.labels("Zone").inc()
    return True


async def record_rejection(
    kube: Kube,
    zone: ZoneRef,
    error: SpecError,
    cluster_id: str | None,
    deployments: Sequence[DeploymentState],
) -> None:
    try:
        spec: ZoneSpec | None = spec_of(zone.name, zone.spec)
    except SpecError:
        spec = None
    status = compute_status(
        spec,
        deployments,
        Acceptance(False, error.reason, str(error)),
        zone.generation,
        previous=zone.status,
        cluster_id=cluster_id,
    )
    status["url"] = zone.status.get("url")
    await write_status(kube, zone, status)


async def record_retry(
    kube: Kube,
    zone: ZoneRef,
    error: Transient,
    spec: ZoneSpec | None,
    cluster: ClusterInfo,
    deployments: Sequence[DeploymentState],
    url: str | None,
    autoscaled: frozenset[str],
) -> None:
    """Progressing=True/Retrying with what failed; a Warning event when that is news (no event storm)."""
    text = str(error)
    text = text if len(text) <= 1000 else f"{text[:997]}..."  # API messages can be long; an event keeps 1 KiB
    message = f"{text} (retrying in a few seconds)"
    status = compute_status(
        spec,
        deployments,
        Acceptance(True),
        zone.generation,
        previous=zone.status,
        url=url,
        cluster_id=cluster.cluster_id,
        autoscaled=autoscaled,
        retrying=message,
    )
    try:
        if await write_status(kube, zone, status):
            involved = {
                "apiVersion": ZONE_API,
                "kind": "Zone",
                "name": zone.name,
                "namespace": zone.namespace,
                "uid": zone.uid,
            }
            await kube.create_event(involved, "Warning", "Retrying", message)
    except KubeError:
        pass  # the API is in trouble already; the retry will record it


#: The generation of each Deployment (namespace, name) as this operator last applied it. The index of
#: Deployments lags the apply by an event; a status computed from it in between would find the previous
#: generation fully rolled out and say Ready mid-rollout (`fresh_states` corrects that).
APPLIED_GENERATIONS: dict[tuple[str, str], int] = {}


def fresh_states(namespace: str, states: Sequence[DeploymentState]) -> list[DeploymentState]:
    """`states` with any Deployment older than what was last applied marked as not rolled out yet."""
    out = []
    for state in states:
        applied = APPLIED_GENERATIONS.get((namespace, state.name), 0)
        if state.generation < applied:
            out.append(dataclasses.replace(state, generation=applied))
        else:
            APPLIED_GENERATIONS.pop((namespace, state.name), None)  # the index caught up: forget it
            out.append(state)
    return out


async def reconcile_zone(
    kube: Kube,
    zone: ZoneRef,
    cluster: ClusterInfo,
    indexed: Sequence[IndexedDeployment] = (),
    autoscaled: frozenset[str] = frozenset(),
    old_spec: Mapping[str, Any] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Bring the zone's children in line with its spec; returns the status computed."""
    deployments = [d.state for d in indexed if d.owner_uid in (None, zone.uid)]
    spec: ZoneSpec | None = None
    ctx: ZoneContext | None = None
    try:
        spec = spec_of(zone.name, zone.spec)
        if cluster.cluster_id is None:
            raise SpecError("the Cluster has no clusterId yet", "ClusterNotReady")
        await _check_secret(kube, spec, zone.namespace)
        ctx = ZoneContext(
            spec=spec,
            namespace=zone.namespace,
            uid=zone.uid,
            cluster_id=cluster.cluster_id,
            cluster=cluster.spec,
            autoscaled=autoscaled,
        )
        children = build_children(ctx)
        applied_hash = _hash(children)
        wanted_deployments = {c["metadata"]["name"] for c in children if c["kind"] == "Deployment"}
        all_there = wanted_deployments <= {d.name for d in deployments}
        # On resume, children already applied from this very content are left alone: no request.
        if not (resume and all_there and zone.status.get("appliedHash") == applied_hash):
            await _check_names(kube, children, zone)
            for stage in apply_stages(children):
                applied = await asyncio.gather(*(_apply(kube, c, zone.uid) for c in stage))
                # The status must see the Deployments as just applied (a new generation not yet observed,
                # so not rolled out), not as the index last saw them: else Ready mid-rollout.
                fresh = {d.name: d for d in (DeploymentState.from_body(body) for body in applied
                                             if body is not None and body.get("kind") == "Deployment")}
                APPLIED_GENERATIONS.update({(zone.namespace, name): d.generation for name, d in fresh.items()})
                deployments = [fresh.pop(d.name, d) for d in deployments] + list(fresh.values())
        desired = {child_key(c) for c in children}
        await _prune(kube, zone, _prune_candidates(ctx, old_spec, indexed) - desired)
    except SpecError as error:
        await record_rejection(kube, zone, error, cluster.cluster_id, deployments)
        raise
    except KubeError as error:
        transient = error if isinstance(error, Transient) else Transient(str(error), error.status)
        url = zone_url(ctx) if ctx is not None else zone.status.get("url")
        await record_retry(kube, zone, transient, spec, cluster, deployments, url, autoscaled)
        raise transient from None
    live = [d for d in deployments if d.name in wanted_deployments]
    status = compute_status(
        spec,
        live,
        Acceptance(True),
        zone.generation,
        previous=zone.status,
        url=zone_url(ctx),
        cluster_id=cluster.cluster_id,
        autoscaled=autoscaled,
    )
    status["appliedHash"] = applied_hash
    await write_status(kube, zone, status)
    return status
