"""A Zone's status, computed from its Deployments: pure, so it is tested without a cluster.

`compute_status` gives the whole status (conditions `Accepted`, `Ready`, `Progressing`, `Degraded`
in metav1.Condition shape, per pod clones, the URL); `status_patch` compares it with the stored
one and returns the patch to send, or None when nothing changed (no write). A condition keeps its
`lastTransitionTime` while its status stays the same. A reconcile that failed on the API and will be
retried says so in `Ready=False` and `Progressing=True` (reason `Retrying`, the failure as message):
the generation is not realized, whatever the pods of an older one say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from autonomy.spec import ZoneSpec
from autonomy_operator.builders import POD_LABEL, deployment_name

__all__ = ["Acceptance", "DeploymentState", "compute_status", "now", "status_patch"]

CONDITION_TYPES = ("Accepted", "Ready", "Progressing", "Degraded")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DeploymentState:
    """What status needs of one Deployment (also what the operator's index keeps of it)."""

    name: str
    pod: str
    generation: int = 0
    observed_generation: int = 0
    spec_replicas: int = 1
    replicas: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    #: Reason of a failed rollout (ProgressDeadlineExceeded, a ReplicaFailure reason), else None.
    failure: str | None = None
    failure_message: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DeploymentState:
        meta, spec, status = body.get("metadata", {}), body.get("spec", {}), body.get("status") or {}
        failure, message = None, ""
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("status") == "False":
                failure, message = cond.get("reason") or "ProgressFailed", cond.get("message") or ""
            elif cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                failure, message = cond.get("reason") or "ReplicaFailure", cond.get("message") or ""
        return cls(
            name=meta.get("name", ""),
            pod=(meta.get("labels") or {}).get(POD_LABEL, ""),
            generation=int(meta.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            spec_replicas=int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
            replicas=int(status.get("replicas") or 0),
            updated=int(status.get("updatedReplicas") or 0),
            ready=int(status.get("readyReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            failure=failure,
            failure_message=message,
        )

    def rolled_out(self, desired: int) -> bool:
        """Every clone is of the current template and ready, and no old clone is left."""
        return (
            self.observed_generation >= self.generation
            and self.spec_replicas == desired
            and self.updated == desired
            and self.replicas == desired
            and self.ready == desired
        )


@dataclass(frozen=True)
class Acceptance:
    """Whether the spec can be realized; `reason` is a CamelCase word."""

    accepted: bool
    reason: str = "Valid"
    message: str = "the zone can be realized"


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int | None) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def compute_status(
    spec: ZoneSpec | None,
    deployments: Sequence[DeploymentState],
    acceptance: Acceptance,
    observed_generation: int | None,
    previous: Mapping[str, Any] | None = None,
    url: str | None = None,
    cluster_id: str | None = None,
    autoscaled: frozenset[str] = frozenset(),
    timestamp: str | None = None,
    retrying: str | None = None,
) -> dict[str, Any]:
    """The full status of a zone from its spec, its Deployments and whether it was accepted;
    `retrying`: what failed in a reconcile that will be retried."""
    by_name = {d.name: d for d in deployments}
    pods: list[dict[str, Any]] = []
    missing: list[str] = []
    rolling: list[str] = []
    failures: list[str] = []
    total_ready = total_wanted = 0
    for pod in spec.pods if spec is not None else []:
        name = deployment_name(spec.name, pod.name) if spec is not None else pod.name
        dep = by_name.get(name)
        if dep is not None and name in autoscaled:
            desired = dep.spec_replicas
        else:
            desired = 0 if spec is not None and spec.suspend else pod.clones
        ready = 0 if dep is None else min(dep.ready, dep.updated)
        pods.append({"name": pod.name, "deployment": name, "clones": desired, "readyClones": ready})
        total_ready += ready
        total_wanted += desired
        if dep is None:
            missing.append(pod.name)
        elif not dep.rolled_out(desired):
            rolling.append(pod.name)
        if dep is not None and dep.failure:
            failures.append(
                f"{pod.name}: {dep.failure}" + (f" ({dep.failure_message})" if dep.failure_message else "")
            )

    gen = observed_generation
    conditions = [_condition("Accepted", acceptance.accepted, acceptance.reason, acceptance.message, gen)]
    suspended = spec is not None and spec.suspend
    if not acceptance.accepted:
        ready_cond = _condition("Ready", False, acceptance.reason, acceptance.message, gen)
    elif retrying is not None:  # this generation is not realized yet, whatever older pods say
        ready_cond = _condition("Ready", False, "Retrying", retrying, gen)
    elif missing:
        ready_cond = _condition("Ready", False, "Creating", "waiting for pods: " + ", ".join(missing), gen)
    elif suspended:
        ready_cond = _condition("Ready", False, "Suspended", "the zone is suspended", gen)
    elif rolling:
        ready_cond = _condition(
            "Ready",
            False,
            "ClonesNotReady",
            f"{total_ready}/{total_wanted} clones ready; waiting for " + ", ".join(rolling),
            gen,
        )
    else:
        ready_cond = _condition(
            "Ready", True, "AllClonesReady", f"{total_ready}/{total_wanted} clones ready", gen
        )
    conditions.append(ready_cond)
    busy = bool(missing or rolling) and acceptance.accepted
    if retrying is not None and acceptance.accepted:
        conditions.append(_condition("Progressing", True, "Retrying", retrying, gen))
    else:
        conditions.append(
            _condition(
                "Progressing",
                busy,
                "RollingOut" if busy else "Complete",
                ("rolling out " + ", ".join(missing + rolling)) if busy else "nothing to roll out",
                gen,
            )
        )
    conditions.append(
        _condition(
            "Degraded",
            bool(failures),
            "RolloutFailed" if failures else "Healthy",
            "; ".join(failures) if failures else "no pod has failed",
            gen,
        )
    )

    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    stamp = timestamp or now()
    for cond in conditions:
        old = before.get(cond["type"])
        kept = old.get("lastTransitionTime") if old and old.get("status") == cond["status"] else None
        cond["lastTransitionTime"] = kept or stamp

    status: dict[str, Any] = {
        "conditions": conditions,
        "pods": pods,
        "clones": f"{total_ready}/{total_wanted}",
        "url": url,
        "clusterId": cluster_id,
    }
    if gen is not None:
        status["observedGeneration"] = gen
    return status


def status_patch(previous: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that turns `previous` into `new` (fields only; None removes), or None if equal."""
    previous = previous or {}
    patch = {k: v for k, v in new.items() if previous.get(k) != v}
    return patch or None
