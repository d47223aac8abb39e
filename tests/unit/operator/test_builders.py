"""Builders: a zone in, the manifests of docs/design.md section 3 out."""

from __future__ import annotations

from typing import Any

import pytest

from autonomy.spec import ClusterSpec, parse_zone
from autonomy_operator.builders import ZoneContext, build_children, child_key, zone_url
from autonomy_operator.builders.resources import share

CLUSTER_ID = "0123456789abcdef0123456789abcdef"
ZONE = {
    "name": "shop",
    "pods": [
        {
            "name": "main-pod",
            "public": True,
            "containers": [
                {"name": "main", "image": "main", "env": {"API_KEY": "secrets.API_KEY", "MODE": "fast"}},
                {"name": "mcp", "image": "ghcr.io/org/mcp:1", "args": ["--port", "8001"]},
            ],
        },
        {"name": "runner", "size": "big", "clones": 3, "containers": [{"name": "runner", "image": "runner"}]},
    ],
}


def context(zone: dict[str, Any] = ZONE, **kw: Any) -> ZoneContext:
    return ZoneContext(spec=parse_zone(zone), namespace="team", uid="uid-1", cluster_id=CLUSTER_ID, **kw)


def by_key(ctx: ZoneContext) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["kind"], c["metadata"]["name"]): c for c in build_children(ctx)}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_children_of_a_zone() -> None:
    kinds = sorted(by_key(context(cluster=ClusterSpec(domain="apps.example.com"))))
    assert kinds == sorted(
        [
            ("ServiceAccount", "shop-node"),
            ("Role", "shop-node"),
            ("RoleBinding", "shop-node"),
            ("NetworkPolicy", "shop"),
            ("NetworkPolicy", "shop-public"),
            ("Service", "shop-main-pod"),
            ("Ingress", "shop-main-pod"),
            ("Deployment", "shop-main-pod"),
            ("Deployment", "shop-runner"),
        ]
    )
    # Without a domain: no Ingress; private pods never get a Service.
    assert ("Ingress", "shop-main-pod") not in by_key(context())
    assert ("Service", "shop-runner") not in by_key(context())


def test_every_child_is_labelled_and_owned_by_the_zone() -> None:
    for child in build_children(context()):
        meta = child["metadata"]
        assert meta["namespace"] == "team"
        assert meta["labels"]["autonomy.computer/cluster"] == CLUSTER_ID
        assert meta["labels"]["autonomy.computer/zone"] == "shop"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "autonomy-operator"
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "Zone",
            "shop",
            "uid-1",
            True,
        )


def test_deployment_replicas_resources_env_and_probes() -> None:
    children = by_key(context())
    runner = children[("Deployment", "shop-runner")]
    assert runner["spec"]["replicas"] == 3
    pod = runner["spec"]["template"]
    assert pod["metadata"]["labels"]["autonomy.computer/pod"] == "runner"
    assert runner["spec"]["selector"]["matchLabels"] == {
        "autonomy.computer/zone": "shop",
        "autonomy.computer/pod": "runner",
    }
    (container,) = pod["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "4", "memory": "2Gi"},
        "limits": {"cpu": "4", "memory": "2Gi"},
    }
    env = env_of(container)
    assert env["CLUSTER"] == CLUSTER_ID and env["ZONE"] == "shop" and env["POD"] == "runner"
    assert env["NODE"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["AUTONOMY_DISCOVERY"] == "kubernetes"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in container["ports"]
    assert pod["spec"]["serviceAccountName"] == "shop-node"


def test_size_is_shared_by_the_containers_and_secrets_become_secret_refs() -> None:
    main_pod = by_key(context())[("Deployment", "shop-main-pod")]["spec"]["template"]["spec"]
    main, mcp = main_pod["containers"]
    assert main["resources"]["limits"] == mcp["resources"]["limits"] == {"cpu": "125m", "memory": "128Mi"}
    assert env_of(main)["API_KEY"] == {"secretKeyRef": {"name": "shop-secrets", "key": "API_KEY"}}
    assert env_of(main)["MODE"] == "fast"
    # Only the node container gets probes; a tool server keeps its args.
    assert "readinessProbe" not in mcp and mcp["args"] == ["--port", "8001"]


def test_restricted_security_context() -> None:
    for child in build_children(context()):
        if child["kind"] != "Deployment":
            continue
        pod = child["spec"]["template"]["spec"]
        assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}


def test_cluster_settings_registry_sizes_ingress_class_and_url() -> None:
    cluster = ClusterSpec.model_validate(
        {
            "domain": "apps.example.com",
            "ingressClassName": "nginx",
            "imageRegistry": "registry.local:5000/",
            "sizes": {"big": {"cpu": "2", "memory": "1Gi"}},
        }
    )
    ctx = context(cluster=cluster)
    children = by_key(ctx)
    runner = children[("Deployment", "shop-runner")]["spec"]["template"]["spec"]["containers"][0]
    assert runner["image"] == "registry.local:5000/runner"
    assert runner["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    mcp = children[("Deployment", "shop-main-pod")]["spec"]["template"]["spec"]["containers"][1]
    assert mcp["image"] == "ghcr.io/org/mcp:1"  # remote images are used as is
    ingress = children[("Ingress", "shop-main-pod")]["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["rules"][0]["host"] == f"{CLUSTER_ID}-shop.apps.example.com"
    assert zone_url(ctx) == f"https://{CLUSTER_ID}-shop.apps.example.com"
    assert zone_url(context()) is None


def test_suspend_and_autoscaled_replicas() -> None:
    suspended = context({**ZONE, "suspend": True})
    assert by_key(suspended)[("Deployment", "shop-runner")]["spec"]["replicas"] == 0
    scaled = context(autoscaled=frozenset({"shop-runner"}))
    assert "replicas" not in by_key(scaled)[("Deployment", "shop-runner")]["spec"]
    assert by_key(scaled)[("Deployment", "shop-main-pod")]["spec"]["replicas"] == 1


def test_network_policies_keep_zones_apart_and_open_public_pods_on_8000() -> None:
    children = by_key(context())
    inner = children[("NetworkPolicy", "shop")]["spec"]
    assert inner["podSelector"] == {"matchLabels": {"autonomy.computer/zone": "shop"}}
    assert inner["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"autonomy.computer/zone": "shop"}}}]}
    ]
    public = children[("NetworkPolicy", "shop-public")]["spec"]
    assert public["podSelector"]["matchExpressions"] == [
        {"key": "autonomy.computer/pod", "operator": "In", "values": ["main-pod"]}
    ]
    assert public["ingress"] == [{"ports": [{"port": 8000, "protocol": "TCP"}]}]


def test_discovery_role_lists_and_watches_pods_only() -> None:
    role = by_key(context())[("Role", "shop-node")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_spec_edits_change_the_pod_template() -> None:
    """Every edit that must roll out shows up in the Deployment's template (or replicas)."""
    base = by_key(context())[("Deployment", "shop-runner")]
    edits = [
        {"image": "runner:v2"},
        {"env": {"X": "1"}},
        {"args": ["--fast"]},
    ]
    for edit in edits:
        zone = {
            **ZONE,
            "pods": [
                ZONE["pods"][0],
                {**ZONE["pods"][1], "containers": [{**ZONE["pods"][1]["containers"][0], **edit}]},
            ],
        }
        changed = by_key(context(zone))[("Deployment", "shop-runner")]
        assert changed["spec"]["template"] != base["spec"]["template"], edit
    resized = {**ZONE, "pods": [ZONE["pods"][0], {**ZONE["pods"][1], "size": "regular"}]}
    assert (
        by_key(context(resized))[("Deployment", "shop-runner")]["spec"]["template"]
        != base["spec"]["template"]
    )


def test_child_keys_are_unique() -> None:
    keys = [child_key(c) for c in build_children(context(cluster=ClusterSpec(domain="x.io")))]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("cpu", "memory", "parts", "expected"),
    [
        ("250m", "256Mi", 1, {"cpu": "250m", "memory": "256Mi"}),
        ("250m", "256Mi", 2, {"cpu": "125m", "memory": "128Mi"}),
        ("4", "2Gi", 2, {"cpu": "2", "memory": "1Gi"}),
        ("250m", "256Mi", 3, {"cpu": "83m", "memory": "87381Ki"}),
    ],
)
def test_share(cpu: str, memory: str, parts: int, expected: dict[str, str]) -> None:
    assert share(cpu, memory, parts) == expected


# -- node containers: known from the spec, never from the image string ------------------------------


def pod_spec(ctx: ZoneContext, deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = by_key(ctx)[("Deployment", deployment)]["spec"]["template"]["spec"]
    return spec


def containers_of(ctx: ZoneContext, deployment: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod_spec(ctx, deployment)["containers"]}


def assert_node_container(container: dict[str, Any], http: str = "http", transport: str = "transport") -> None:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert set(ports) == {http, transport}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": http}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": http}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": http}


def test_cli_rewritten_images_keep_their_node_probes_and_ports() -> None:
    """`zone deploy` renames local images to `<registry>/<zone>-<name>:<tag>`; the nodes stay nodes."""
    from autonomy.cli.deploy import zone_manifest

    spec = parse_zone(ZONE)
    refs = {"main": "registry.example/shop-main:abc", "runner": "registry.example/shop-runner:abc"}
    manifest = zone_manifest(spec, "team", refs)
    applied = parse_zone({"name": "shop", **manifest["spec"]})  # what the operator reads back
    ctx = ZoneContext(spec=applied, namespace="team", uid="uid-1", cluster_id=CLUSTER_ID)
    main = containers_of(ctx, "shop-main-pod")["main"]
    assert main["image"] == "registry.example/shop-main:abc"
    assert_node_container(main)
    assert {p["containerPort"] for p in main["ports"]} == {8000, 50051}
    runner = containers_of(ctx, "shop-runner")["runner"]
    assert runner["image"] == "registry.example/shop-runner:abc"
    assert_node_container(runner)
    mcp = containers_of(ctx, "shop-main-pod")["mcp"]
    assert not {"ports", "readinessProbe", "livenessProbe", "startupProbe"} & set(mcp)


def test_node_flag_decides_for_images_with_a_slash_as_kubectl_users_write_them() -> None:
    def pod(*containers: dict[str, Any]) -> dict[str, Any]:
        return {"name": "z", "pods": [{"name": "main-pod", "containers": list(containers)}]}

    # As before `node` existed: an image with '/' and no flag is not a node.
    plain = containers_of(context(pod({"name": "main", "image": "registry.example/z-main:abc"})), "z-main-pod")
    assert "readinessProbe" not in plain["main"] and "ports" not in plain["main"]
    flagged = containers_of(
        context(pod({"name": "main", "image": "registry.example/z-main:abc", "node": True})), "z-main-pod"
    )
    assert_node_container(flagged["main"])
    # And a local image that is a tool server, not a node, can say so.
    tools = containers_of(
        context(pod({"name": "main", "image": "main"}, {"name": "tools", "image": "tools", "node": False})),
        "z-main-pod",
    )
    assert_node_container(tools["main"])
    assert "readinessProbe" not in tools["tools"]


def test_several_node_containers_in_one_pod_get_ports_of_their_own() -> None:
    zone = {
        "name": "z",
        "pods": [
            {
                "name": "main-pod",
                "containers": [
                    {"name": "side", "image": "registry.example/z-side:1", "node": True},
                    {"name": "main", "image": "registry.example/z-main:1", "node": True},
                    {"name": "tools", "image": "registry.example/z-tools:1", "node": False},
                    {"name": "third", "image": "registry.example/z-third:1", "node": True},
                ],
            }
        ],
    }
    containers = containers_of(context(zone), "z-main-pod")
    main, side, third = containers["main"], containers["side"], containers["third"]
    # The one named main is the pod's node: the ports the Service and the peers use.
    assert_node_container(main)
    assert {p["containerPort"] for p in main["ports"]} == {8000, 50051}
    assert "DEFAULT_PORT_HTTP" not in env_of(main) and "AUTONOMY_TRANSPORT_PORT" not in env_of(main)
    assert env_of(main)["NODE"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # The others are told where to serve, are probed there, and carry a node name of their own.
    assert_node_container(side, "http-1", "transport-1")
    assert {p["containerPort"] for p in side["ports"]} == {8100, 50151}
    assert env_of(side)["DEFAULT_PORT_HTTP"] == "8100" and env_of(side)["AUTONOMY_TRANSPORT_PORT"] == "50151"
    assert_node_container(third, "http-2", "transport-2")
    assert env_of(third)["DEFAULT_PORT_HTTP"] == "8200"
    names = [e["name"] for e in side["env"]]
    assert names.index("AUTONOMY_POD_NAME") < names.index("NODE")  # the kubelet expands $(VAR) in order
    assert env_of(side)["NODE"] == "$(AUTONOMY_POD_NAME)-side"
    assert "ports" not in containers["tools"]
    every_port = [(p["name"], p["containerPort"]) for c in containers.values() for p in c.get("ports", [])]
    assert len({name for name, _ in every_port}) == len({port for _, port in every_port}) == len(every_port)


def test_a_node_port_set_in_env_is_where_it_is_probed() -> None:
    zone = {
        "name": "z",
        "pods": [
            {
                "name": "main-pod",
                "containers": [
                    {"name": "main", "image": "main"},
                    {"name": "side", "image": "side", "node": True, "env": {"DEFAULT_PORT_HTTP": 9000}},
                ],
            }
        ],
    }
    side = containers_of(context(zone), "z-main-pod")["side"]
    assert {p["name"]: p["containerPort"] for p in side["ports"]} == {"http-1": 9000, "transport-1": 50151}
    assert [e["name"] for e in side["env"]].count("DEFAULT_PORT_HTTP") == 1
    assert env_of(side)["DEFAULT_PORT_HTTP"] == "9000"


def test_read_only_root_with_writable_tmp_workspace_and_node_state() -> None:
    ctx = context()
    for deployment in ("shop-main-pod", "shop-runner"):
        spec = pod_spec(ctx, deployment)
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert all(v == {"name": n, "emptyDir": {}} for n, v in volumes.items())
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert {"/tmp", "/workspace"} <= set(mounts)
            assert set(mounts.values()) <= set(volumes)
    main, mcp = pod_spec(ctx, "shop-main-pod")["containers"]
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    env = env_of(main)
    # HOME and the agents' memory (AUTONOMY_DATA_DIR) live in the node's own writable volume.
    assert env["HOME"] == "/var/lib/autonomy" and env["AUTONOMY_DATA_DIR"].startswith("/var/lib/autonomy/")
    assert mounts["/var/lib/autonomy"] == "state-main"
    assert "/var/lib/autonomy" not in {m["mountPath"] for m in mcp["volumeMounts"]} and "HOME" not in env_of(mcp)


def test_a_zone_may_move_the_node_data_dir_without_a_duplicate_variable() -> None:
    zone = {
        "name": "z",
        "pods": [{"name": "main-pod", "containers": [{"name": "main", "image": "main", "env": {
            "AUTONOMY_DATA_DIR": "/workspace/memory", "AUTONOMY_DISCOVERY": "none"}}]}],
    }
    (main,) = pod_spec(context(zone), "z-main-pod")["containers"]
    names = [e["name"] for e in main["env"]]
    assert len(names) == len(set(names))
    assert env_of(main)["AUTONOMY_DATA_DIR"] == "/workspace/memory" and env_of(main)["AUTONOMY_DISCOVERY"] == "none"
