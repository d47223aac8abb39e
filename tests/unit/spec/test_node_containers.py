"""Which containers run a node: said by `node` in the spec, settled when the spec is read.

The operator gives node containers their ports and probes; it must know them whatever their image is
called, since `autonomy zone deploy` renames local images to `<registry>/<zone>-<name>:<tag>`.
"""

from __future__ import annotations

from typing import Any

import pytest

from autonomy.spec import ZoneConfigError, parse_zone
from autonomy_operator import crdgen


def one_pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"name": "z", "pods": [{"name": "main-pod", "containers": list(containers)}]}


def nodes_of(data: dict[str, Any]) -> dict[str, bool | None]:
    return {c.name: c.node for c in parse_zone(data).pods[0].containers}


def test_unset_node_keeps_the_rule_of_local_images() -> None:
    # The local container named main, else the first local one; images with '/' are not nodes.
    assert nodes_of(one_pod({"name": "mcp", "image": "ghcr.io/x/mcp"}, {"name": "api", "image": "api"},
                            {"name": "main", "image": "main"})) == {"mcp": False, "api": False, "main": True}
    assert nodes_of(one_pod({"name": "mcp", "image": "ghcr.io/x/mcp"}, {"name": "api", "image": "api"},
                            {"name": "web", "image": "web"})) == {"mcp": False, "api": True, "web": False}
    assert nodes_of(one_pod({"name": "db", "image": "docker.io/library/postgres"})) == {"db": False}


def test_explicit_node_wins_for_any_image() -> None:
    data = one_pod(
        {"name": "main", "image": "main", "node": False},
        {"name": "side", "image": "registry.example/z-side:abc", "node": True},
        {"name": "tools", "image": "tools"},
    )
    assert nodes_of(data) == {"main": False, "side": True, "tools": False}
    pod = parse_zone(data).pods[0]
    assert pod.node_container is not None and pod.node_container.name == "side"


def test_the_pods_node_is_main_among_several_node_containers() -> None:
    flagged = [{"name": n, "image": f"r/{n}", "node": True} for n in ("a", "main", "b")]
    pod = parse_zone(one_pod(*flagged)).pods[0]
    assert [c.name for c in pod.node_containers] == ["a", "main", "b"]
    assert pod.node_container is not None and pod.node_container.name == "main"
    assert parse_zone(one_pod({"name": "db", "image": "r/db"})).pods[0].node_container is None


def test_the_zone_resource_says_for_every_container_and_survives_image_renaming() -> None:
    """What `zone deploy` applies: node written out, so the renamed images change nothing."""
    from autonomy.cli.deploy import zone_manifest

    spec = parse_zone(
        {
            "name": "agent",
            "pods": [{"name": "main-pod", "containers": [{"name": "main", "image": "main"},
                                                         {"name": "tools", "image": "tools"},
                                                         {"name": "mcp", "image": "ghcr.io/x/mcp"}]}],
        }
    )
    refs = {"main": "registry.example/agent-main:abc", "tools": "registry.example/agent-tools:abc"}
    manifest = zone_manifest(spec, "team", refs)
    written = [(c["image"], c["node"]) for c in manifest["spec"]["pods"][0]["containers"]]
    assert written == [("registry.example/agent-main:abc", True), ("registry.example/agent-tools:abc", False),
                       ("ghcr.io/x/mcp", False)]
    applied = parse_zone({"name": "agent", **manifest["spec"]})
    assert applied.pods[0].node_container is not None and applied.pods[0].node_container.name == "main"
    # The resource's spec round-trips through the parser, flags and all.
    assert parse_zone({"name": "agent", **spec.crd_spec()}) == spec


@pytest.mark.parametrize("value", ["yes", 1, "true", []])
def test_node_must_be_true_or_false(value: Any) -> None:
    with pytest.raises(ZoneConfigError) as caught:
        parse_zone(one_pod({"name": "main", "image": "main", "node": value}))
    (problem,) = caught.value.problems
    assert problem.startswith("pods[0].containers[0].node:") and "node: true or node: false" in problem


def test_the_crd_takes_an_optional_boolean_node() -> None:
    schema = crdgen.zone_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    container = schema["properties"]["spec"]["properties"]["pods"]["items"]["properties"]["containers"]["items"]
    assert container["properties"]["node"]["type"] == "boolean"
    assert "node" not in container.get("required", [])
    assert "default" not in container["properties"]["node"]  # unset means: the rule of local images
