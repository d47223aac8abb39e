"""Zone status from Deployments: conditions, clones, and no patch when nothing changed."""

from __future__ import annotations

from typing import Any

from autonomy.spec import parse_zone
from autonomy_operator.status import Acceptance, DeploymentState, compute_status, status_patch

SPEC = parse_zone(
    {
        "name": "shop",
        "pods": [
            {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
            {"name": "runner", "clones": 3, "containers": [{"name": "main", "image": "main"}]},
        ],
    }
)
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def rolled(name: str, pod: str, n: int, **kw: Any) -> DeploymentState:
    values: dict[str, Any] = dict(
        name=name,
        pod=pod,
        generation=2,
        observed_generation=2,
        spec_replicas=n,
        replicas=n,
        updated=n,
        ready=n,
        available=n,
    )
    values.update(kw)
    return DeploymentState(**values)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_all_clones_ready_is_ready() -> None:
    status = compute_status(
        SPEC,
        [rolled("shop-main-pod", "main-pod", 1), rolled("shop-runner", "runner", 3)],
        Acceptance(True),
        4,
        timestamp=T0,
        url="https://x",
        cluster_id="c",
    )
    assert conditions(status) == {
        "Accepted": ("True", "Valid"),
        "Ready": ("True", "AllClonesReady"),
        "Progressing": ("False", "Complete"),
        "Degraded": ("False", "Healthy"),
    }
    assert status["clones"] == "4/4" and status["observedGeneration"] == 4 and status["url"] == "https://x"
    assert status["pods"][1] == {"name": "runner", "deployment": "shop-runner", "clones": 3, "readyClones": 3}
    assert all(c["observedGeneration"] == 4 and c["lastTransitionTime"] == T0 for c in status["conditions"])


def test_pending_pods_are_never_ready() -> None:
    # Three pods exist (replicas, updated) but one is Pending: not ready.
    pending = rolled("shop-runner", "runner", 3, ready=2, available=2)
    status = compute_status(
        SPEC, [rolled("shop-main-pod", "main-pod", 1), pending], Acceptance(True), 1, timestamp=T0
    )
    assert conditions(status)["Ready"] == ("False", "ClonesNotReady")
    assert conditions(status)["Progressing"] == ("True", "RollingOut")
    assert status["clones"] == "3/4"


def test_missing_deployment_old_generation_and_old_clones_are_not_ready() -> None:
    only_main = compute_status(
        SPEC, [rolled("shop-main-pod", "main-pod", 1)], Acceptance(True), 1, timestamp=T0
    )
    assert conditions(only_main)["Ready"] == ("False", "Creating")
    stale = rolled("shop-runner", "runner", 3, observed_generation=1)
    leftovers = rolled("shop-runner", "runner", 3, replicas=4)
    wrong_count = rolled("shop-runner", "runner", 2)  # clones changed to 3, the Deployment still says 2
    for runner in (stale, leftovers, wrong_count):
        status = compute_status(SPEC, [rolled("shop-main-pod", "main-pod", 1), runner], Acceptance(True), 1)
        assert conditions(status)["Ready"][0] == "False", runner


def test_failed_rollout_is_degraded() -> None:
    body = {
        "metadata": {"name": "shop-runner", "labels": {"autonomy.computer/pod": "runner"}, "generation": 3},
        "spec": {"replicas": 3},
        "status": {
            "observedGeneration": 3,
            "replicas": 3,
            "updatedReplicas": 1,
            "readyReplicas": 2,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": "took too long",
                }
            ],
        },
    }
    state = DeploymentState.from_body(body)
    assert (state.pod, state.generation, state.updated, state.failure) == (
        "runner",
        3,
        1,
        "ProgressDeadlineExceeded",
    )
    status = compute_status(SPEC, [rolled("shop-main-pod", "main-pod", 1), state], Acceptance(True), 1)
    assert conditions(status)["Degraded"] == ("True", "RolloutFailed")
    assert "runner: ProgressDeadlineExceeded (took too long)" in status["conditions"][3]["message"]


def test_rejected_spec_is_not_accepted_and_not_ready() -> None:
    status = compute_status(SPEC, [], Acceptance(False, "UnknownSecretKey", "no key TOKEN"), 2)
    assert conditions(status)["Accepted"] == ("False", "UnknownSecretKey")
    assert conditions(status)["Ready"] == ("False", "UnknownSecretKey")
    assert conditions(status)["Progressing"] == ("False", "Complete")


def test_suspended_zone() -> None:
    suspended = parse_zone({**SPEC.model_dump(by_alias=True), "suspend": True})
    status = compute_status(
        suspended,
        [rolled("shop-main-pod", "main-pod", 0), rolled("shop-runner", "runner", 0)],
        Acceptance(True),
        1,
    )
    assert conditions(status)["Ready"] == ("False", "Suspended") and status["clones"] == "0/0"


def test_autoscaled_pod_wants_what_the_hpa_set() -> None:
    scaled = rolled("shop-runner", "runner", 7)
    status = compute_status(
        SPEC,
        [rolled("shop-main-pod", "main-pod", 1), scaled],
        Acceptance(True),
        1,
        autoscaled=frozenset({"shop-runner"}),
    )
    assert conditions(status)["Ready"][0] == "True" and status["clones"] == "8/8"


def test_transition_time_kept_while_status_holds_and_no_patch_when_unchanged() -> None:
    deps = [rolled("shop-main-pod", "main-pod", 1), rolled("shop-runner", "runner", 3)]
    first = compute_status(SPEC, deps, Acceptance(True), 1, timestamp=T0)
    again = compute_status(SPEC, deps, Acceptance(True), 1, previous=first, timestamp=T1)
    assert again == first
    assert status_patch(first, again) is None
    slower = [deps[0], rolled("shop-runner", "runner", 3, ready=1)]
    changed = compute_status(SPEC, slower, Acceptance(True), 1, previous=first, timestamp=T1)
    times = {c["type"]: c["lastTransitionTime"] for c in changed["conditions"]}
    assert times == {"Accepted": T0, "Ready": T1, "Progressing": T1, "Degraded": T0}
    patch = status_patch(first, changed)
    assert patch is not None and set(patch) == {"conditions", "pods", "clones"}


def test_a_status_from_a_lagging_index_is_not_ready_mid_rollout() -> None:
    # The operator applied generation 3; the index still holds generation 2, fully rolled out.
    from autonomy_operator.reconcile import APPLIED_GENERATIONS, fresh_states

    lagging = DeploymentState(name="z-runner", pod="runner", generation=2, observed_generation=2, spec_replicas=3,
                              replicas=3, updated=3, ready=3, available=3)
    APPLIED_GENERATIONS[("ns", "z-runner")] = 3
    (state,) = fresh_states("ns", [lagging])
    assert not state.rolled_out(3)
    caught_up = DeploymentState(name="z-runner", pod="runner", generation=3, observed_generation=3, spec_replicas=3,
                                replicas=3, updated=3, ready=3, available=3)
    assert fresh_states("ns", [caught_up])[0].rolled_out(3)
    assert ("ns", "z-runner") not in APPLIED_GENERATIONS  # forgotten once the index caught up
