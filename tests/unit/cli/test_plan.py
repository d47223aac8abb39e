"""The processes zone dev starts, and the environment each node gets (the cluster's contract)."""

from pathlib import Path

import pytest

from autonomy.cli.dev.plan import DEFAULT_DOCKERFILE, ImageBuild, make_plan
from autonomy.cli.exits import CliError, Exit
from autonomy.spec import parse_zone

ROOT = Path(__file__).resolve().parents[3]


# examples/fanout/autonomy.yaml, as data
FANOUT_ZONE = {
    "name": "fanout",
    "pods": [
        {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
        {"name": "runner-pod", "clones": 3, "containers": [{"name": "runner", "image": "runner"}]},
    ],
}


def _ports() -> object:
    counter = iter(range(20000, 21000))
    return lambda host: next(counter)


def test_fanout_example_plan(tmp_path: Path) -> None:
    spec = parse_zone(FANOUT_ZONE)
    plan = make_plan(
        spec,
        ROOT / "examples" / "fanout",
        secrets={},
        registry_dir=tmp_path,
        port=8123,
        python="/py",
        port_picker=_ports(),
    )
    assert [p.env["NODE"] for p in plan.processes] == [
        "fanout-main-pod-0",
        "fanout-runner-pod-0",
        "fanout-runner-pod-1",
        "fanout-runner-pod-2",
    ]
    assert [p.label for p in plan.processes] == [
        "main-pod/main",
        "runner-pod/runner[0]",
        "runner-pod/runner[1]",
        "runner-pod/runner[2]",
    ]
    main, *runners = plan.processes
    assert plan.public_port == 8123
    assert main.env["DEFAULT_PORT_HTTP"] == "8123"
    assert len({r.env["DEFAULT_PORT_HTTP"] for r in runners}) == 3
    assert "8123" not in {r.env["DEFAULT_PORT_HTTP"] for r in runners}
    for process in plan.processes:
        assert process.argv == ["/py", "main.py"]  # the example's Dockerfile: ENTRYPOINT ["python", "main.py"]
        assert not process.is_docker
        assert process.env["ZONE"] == "fanout"
        assert process.env["POD"] == process.pod
        assert process.env["POD_IP"] == "127.0.0.1"
        assert process.env["AUTONOMY_DISCOVERY"] == "local"
        assert process.env["AUTONOMY_REGISTRY_DIR"] == str(tmp_path)
        assert process.env["AUTONOMY_TRANSPORT_PORT"] == "0"
        assert {"CLUSTER", "NAMESPACE"} <= process.env.keys()
        assert process.cwd == ROOT / "examples" / "fanout" / "images" / process.container


def _zone_folder(tmp_path: Path, dockerfile: str | None = None, main_py: bool = True) -> Path:
    image = tmp_path / "images" / "main"
    image.mkdir(parents=True)
    if main_py:
        (image / "main.py").write_text("print('hi')\n")
    if dockerfile is not None:
        (image / "Dockerfile").write_text(dockerfile)
    return tmp_path


def test_secrets_and_plain_env_and_sidecar_image(tmp_path: Path) -> None:
    root = _zone_folder(tmp_path)
    spec = parse_zone(
        {
            "name": "z",
            "pods": [
                {
                    "name": "main-pod",
                    "public": True,
                    "containers": [
                        {
                            "name": "main",
                            "image": "main",
                            "env": {"API_KEY": "secrets.API_KEY", "MODE": "fast", "N": 3},
                        },
                        {
                            "name": "mcp",
                            "image": "ghcr.io/acme/mcp-proxy",
                            "args": ["--sse-port", "8001"],
                            "env": [{"TOKEN": "secrets.TOKEN"}],
                        },
                    ],
                }
            ],
        }
    )
    plan = make_plan(
        spec, root, secrets={"API_KEY": "k-1", "TOKEN": "t-2"}, registry_dir=tmp_path / "r", port_picker=_ports()
    )
    main, mcp = plan.processes
    assert main.env["API_KEY"] == "k-1" and main.env["MODE"] == "fast" and main.env["N"] == "3"
    assert mcp.is_docker and mcp.docker_image == "ghcr.io/acme/mcp-proxy"
    assert mcp.argv == ["--sse-port", "8001"] and mcp.env["TOKEN"] == "t-2"
    # The sidecar needs Docker, so its whole pod runs there: the node too, built on the node image.
    assert plan.needs_docker == [main, mcp]
    assert main.docker_image == "autonomy-dev-z-main" and main.argv == []


def test_missing_secret_and_missing_image_folder_are_reported_together(tmp_path: Path) -> None:
    spec = parse_zone(
        {
            "name": "z",
            "pods": [
                {
                    "name": "main-pod",
                    "containers": [
                        {"name": "main", "image": "main", "env": {"API_KEY": "secrets.API_KEY"}},
                    ],
                }
            ],
        }
    )
    with pytest.raises(CliError) as caught:
        make_plan(spec, tmp_path, secrets={}, registry_dir=tmp_path / "r", port_picker=_ports())
    assert caught.value.code == Exit.CONFIG
    assert any("env.API_KEY" in d and "secrets.yaml" in d for d in caught.value.details)
    assert any("images/main" in d for d in caught.value.details)


def test_non_python_local_image_runs_with_docker(tmp_path: Path) -> None:
    root = _zone_folder(tmp_path, dockerfile='FROM node:20\nCMD ["node", "server.js"]\n', main_py=False)
    spec = parse_zone({"name": "z", "pods": [{"name": "main-pod", "containers": [{"name": "ui", "image": "main"}]}]})
    plan = make_plan(spec, root, secrets={}, registry_dir=tmp_path / "r", port_picker=_ports())
    (ui,) = plan.processes
    assert ui.is_docker and ui.docker_image == "autonomy-dev-z-main"
    assert plan.images_to_build == {"autonomy-dev-z-main": ImageBuild(root / "images" / "main")}


def _sidecar_zone(tmp_path: Path) -> Path:
    """main-pod: a node and a sidecar image; runner-pod: 2 clones of a node and a sidecar; idle-pod: a node."""
    for name in ("main", "runner"):
        (tmp_path / "images" / name).mkdir(parents=True)
        (tmp_path / "images" / name / "main.py").write_text("print('hi')\n")
    return tmp_path


SIDECAR_ZONE = {
    "name": "z",
    "pods": [
        {
            "name": "main-pod",
            "public": True,
            "containers": [
                {"name": "main", "image": "main", "env": {"MODE": "yaml"}},
                {"name": "web", "image": "acme/web", "args": ["--port", "9000"]},
            ],
        },
        {
            "name": "runner-pod",
            "clones": 2,
            "containers": [
                {"name": "runner", "image": "runner"},
                {"name": "web", "image": "acme/web"},
            ],
        },
        {"name": "idle-pod", "containers": [{"name": "idle", "image": "runner"}]},
    ],
}


def test_a_pod_with_a_sidecar_image_is_one_docker_sandbox_per_clone(tmp_path: Path) -> None:
    root = _sidecar_zone(tmp_path)
    plan = make_plan(
        parse_zone(SIDECAR_ZONE),
        root,
        secrets={},
        registry_dir=tmp_path / "r",
        port=8123,
        port_picker=_ports(),
        run_id="r1",
        extra_env={"MODE": "cli"},
    )
    main_pod, runner0, runner1, idle = plan.pods
    assert [p.in_docker for p in plan.pods] == [True, True, True, False]
    assert plan.network == "autonomy-dev-z-r1"
    assert main_pod.sandbox == "autonomy-dev-z-main-pod-0-r1" and main_pod.http_port == plan.public_port == 8123
    assert runner0.sandbox != runner1.sandbox and runner0.label == "runner-pod[0]"
    assert len({runner0.http_port, runner1.http_port, 8123}) == 3  # each clone's node published on its own port
    main, web = main_pod.processes
    assert main.sandbox == web.sandbox == main_pod.sandbox
    assert main.docker_image == "autonomy-dev-z-main" and main.mounts_registry and not web.mounts_registry
    assert main.docker_name == "autonomy-dev-z-main-pod-0-main-r1"
    # Inside its pod a node listens as in a cluster; POD_IP is the sandbox's, added when it runs.
    assert main.env["DEFAULT_PORT_HTTP"] == "8000" and main.env["AUTONOMY_TRANSPORT_PORT"] == "50051"
    assert main.env["DEFAULT_HOST_HTTP"] == "0.0.0.0" and "POD_IP" not in main.env
    assert main.http_port == 8123 and web.http_port is None and "DEFAULT_PORT_HTTP" not in web.env
    assert main.env["MODE"] == "cli"  # -e overrides autonomy.yaml
    assert web.env["NODE"] == "z-main-pod-0" and web.argv == ["--port", "9000"]
    assert runner1.processes[1].env["NODE"] == "z-runner-pod-1"
    assert plan.images_to_build == {
        "autonomy-dev-z-main": ImageBuild(root / "images" / "main", DEFAULT_DOCKERFILE),
        "autonomy-dev-z-runner": ImageBuild(root / "images" / "runner", DEFAULT_DOCKERFILE),
    }
    # A pod of node containers only stays a local process; on the zone network it listens on the gateway.
    (node,) = idle.processes
    assert not node.is_docker and node.env["POD_IP"] == "127.0.0.1"
    on_net = plan.on_network("172.30.0.1")
    assert on_net.pods[3].processes[0].env["POD_IP"] == "172.30.0.1"
    assert on_net.pods[3].processes[0].env["AUTONOMY_TRANSPORT_HOST"] == "172.30.0.1"
    assert on_net.pods[0] == main_pod


def test_docker_option_runs_every_pod_in_docker(tmp_path: Path) -> None:
    spec = parse_zone(FANOUT_ZONE)
    plan = make_plan(
        spec, ROOT / "examples" / "fanout", secrets={}, registry_dir=tmp_path, port_picker=_ports(), docker=True
    )
    assert all(pod.in_docker for pod in plan.pods) and len(plan.pods) == 4
    assert set(plan.images_to_build) == {"autonomy-dev-fanout-main", "autonomy-dev-fanout-runner"}
    assert all(build.dockerfile is None for build in plan.images_to_build.values())  # the examples' own


def test_local_pods_only_their_node_is_awaited_for_readiness(tmp_path: Path) -> None:
    spec = parse_zone(
        {
            "name": "agent",
            "pods": [
                {
                    "name": "main-pod",
                    "public": True,
                    "containers": [{"name": "main", "image": "main"}, {"name": "tools", "image": "tools"}],
                }
            ],
        }
    )
    secrets = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x"}
    plan = make_plan(
        spec,
        ROOT / "examples" / "agent",
        secrets=secrets,
        registry_dir=tmp_path,
        port=8123,
        port_picker=_ports(),
        python="/py",
    )
    (pod,) = plan.pods
    main, tools = pod.processes
    assert not pod.in_docker and plan.network is None
    assert main.http_port == 8123 and tools.http_port is None
    assert tools.argv == ["/py", "server.py"]
    assert tools.env["DEFAULT_PORT_HTTP"] not in ("8123", "")  # its own port, should it serve one


def test_every_container_gets_the_runs_zone_ca_and_docker_mounts_it_read_only(tmp_path: Path) -> None:
    from autonomy.cli.dev.sandbox import DockerRun
    from autonomy.identity.dev_authority import ENV_NAME

    ca = tmp_path / "run" / "ca"
    plan = make_plan(
        parse_zone(SIDECAR_ZONE), _sidecar_zone(tmp_path), secrets={}, registry_dir=tmp_path / "run" / "registry",
        port_picker=_ports(), run_id="r1", ca_dir=ca,
    )
    assert ENV_NAME == "AUTONOMY_DEV_CA_DIR"
    assert {p.env["AUTONOMY_DEV_CA_DIR"] for p in plan.processes} == {str(ca)}
    assert not any("AUTONOMY_ZONE_TOKEN" in p.env for p in plan.processes)
    run = DockerRun(zone="z", run_id="r1", network="n", pause_image="img", registry_dir=tmp_path / "run" / "registry",
                    ca_dir=ca, user="1000:1000")
    main, web = plan.pods[0].processes
    argv, _ = run.container_argv(main, "172.30.0.2")
    volumes = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--volume"]
    assert f"{ca}:{ca}:ro" in volumes and argv[argv.index("--user") + 1] == "1000:1000"
    sidecar, _ = run.container_argv(web, "172.30.0.2")
    assert f"{ca}:{ca}:ro" not in sidecar  # an image that is no node gets no CA mounted
