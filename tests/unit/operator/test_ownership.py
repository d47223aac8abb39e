"""Whose object a child's name holds, the order children are applied in, and a retry in the status."""

from __future__ import annotations

from typing import Any

import pytest

from autonomy.spec import ClusterSpec, parse_zone
from autonomy_operator.builders import ZoneContext, build_children
from autonomy_operator.ownership import Ownership, collision_message, ownership_of
from autonomy_operator.reconcile import apply_stages
from autonomy_operator.status import Acceptance, DeploymentState, compute_status

UID = "1111-zone-uid"


def live(owners: list[dict[str, Any]] | None = None, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "shop-node", "uid": "obj"}
    if owners is not None:
        meta["ownerReferences"] = owners
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": meta}


def zone_ref(
    uid: str = UID, name: str = "shop", kind: str = "Zone", api: str = "autonomy.computer/v1alpha1"
) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": True}


@pytest.mark.parametrize(
    "obj,expected",
    [
        (None, Ownership.ABSENT),
        (live([zone_ref()]), Ownership.OURS),
        (live([zone_ref(uid="other"), zone_ref()]), Ownership.OURS),
        (live([zone_ref()], deleting=True), Ownership.LEAVING),
        (live([zone_ref(uid="an-earlier-shop")]), Ownership.LEAVING),
        (live(), Ownership.FOREIGN),  # made by hand: `kubectl create serviceaccount shop-node`
        (live([]), Ownership.FOREIGN),
        (live(deleting=True), Ownership.LEAVING),
        (live([zone_ref(uid="x", name="other")]), Ownership.FOREIGN),  # another zone's
        (live([zone_ref(uid="x", kind="Deployment")]), Ownership.FOREIGN),
        (live([zone_ref(uid="x", api="example.com/v1")]), Ownership.FOREIGN),
        (live([zone_ref(uid="x"), zone_ref(uid="y", name="other")]), Ownership.FOREIGN),
    ],
)
def test_ownership_of(obj: dict[str, Any] | None, expected: Ownership) -> None:
    assert ownership_of(obj, UID, "shop") is expected


def test_collision_message_names_every_object_and_the_fix() -> None:
    one = collision_message([("ServiceAccount", "shop-node")])
    assert one.startswith("ServiceAccount 'shop-node' already exists and does not belong to this zone")
    assert "nothing of the zone was written" in one and "delete that object" in one
    two = collision_message([("ServiceAccount", "shop-node"), ("Role", "shop-node")])
    assert "ServiceAccount 'shop-node', Role 'shop-node' already exist and do not" in two
    assert "delete those objects" in two


def _children() -> list[dict[str, Any]]:
    spec = parse_zone(
        {
            "name": "shop",
            "pods": [
                {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
                {"name": "runner", "containers": [{"name": "main", "image": "runner"}]},
            ],
        }
    )
    ctx = ZoneContext(spec=spec, namespace="ns", uid=UID, cluster_id="c" * 32, cluster=ClusterSpec(domain="x.test"))
    return build_children(ctx)


def test_a_role_binding_comes_after_its_role_and_pods_after_their_rights() -> None:
    children = _children()
    stages = [[c["kind"] for c in stage] for stage in apply_stages(children)]
    assert stages[1:] == [["RoleBinding"], ["Deployment", "Deployment"]]
    assert {"ServiceAccount", "Role", "NetworkPolicy", "Service", "Ingress"} == set(stages[0])
    assert sorted(c["metadata"]["name"] for s in apply_stages(children) for c in s) == sorted(
        c["metadata"]["name"] for c in children
    )  # every child, once


def test_stages_without_later_kinds_are_left_out() -> None:
    only = [c for c in _children() if c["kind"] == "ServiceAccount"]
    assert apply_stages(only) == [only]
    assert apply_stages([]) == []


def test_a_retry_is_not_ready_and_progressing_says_what_failed() -> None:
    spec = parse_zone({"name": "shop", "pods": [{"name": "main-pod", "containers": [{"name": "m", "image": "m"}]}]})
    ready_pods = [DeploymentState("shop-main-pod", "main-pod", 1, 1, 1, 1, 1, 1, 1)]
    message = "Service 'shop-main-pod' could not be applied: exceeded quota (retrying in a few seconds)"
    status = compute_status(spec, ready_pods, Acceptance(True), 2, retrying=message)
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}
    assert conditions["Progressing"] == ("True", "Retrying", message)
    assert conditions["Ready"] == ("False", "Retrying", message)  # older pods ready: not this generation
    assert conditions["Accepted"][0] == "True" and conditions["Degraded"][0] == "False"
    again = compute_status(spec, ready_pods, Acceptance(True), 2, previous=status)
    assert {c["type"]: c["status"] for c in again["conditions"]}["Ready"] == "True"  # once it went through
