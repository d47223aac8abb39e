"""The processes zone dev starts, and the environment each node gets (the cluster's contract)."""

from pathlib import Path

import pytest

from autonomy.cli.dev.plan import make_plan
from autonomy.cli.exits import CliError, Exit
from autonomy.spec import parse_zone

ROOT = Path(__file__).resolve().parents[3]


def _ports() -> object:
    counter = iter(range(20000, 21000))
    return lambda host: next(counter)


def test_fanout_example_plan(tmp_path: Path) -> None:
    spec = parse_zone(
        {"name": "fanout", "pods": [
            {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
            {"name": "runner-pod", "clones": 3, "containers": [{"name": "runner", "image": "runner"}]},
        ]}
    )
    plan = make_plan(spec, ROOT / "examples" / "fanout", secrets={}, registry_dir=tmp_path, port=8123,
                     python="/py", port_picker=_ports())
    assert [p.env["NODE"] for p in plan.processes] == [
        "fanout-main-pod-0", "fanout-runner-pod-0", "fanout-runner-pod-1", "fanout-runner-pod-2"
    ]
    assert [p.label for p in plan.processes] == [
        "main-pod/main", "runner-pod/runner[0]", "runner-pod/runner[1]", "runner-pod/runner[2]"
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
    spec = parse_zone({"name": "z", "pods": [{"name": "main-pod", "public": True, "containers": [
        {"name": "main", "image": "main", "env": {"API_KEY": "secrets.API_KEY", "MODE": "fast", "N": 3}},
        {"name": "mcp", "image": "ghcr.io/acme/mcp-proxy", "args": ["--sse-port", "8001"],
         "env": [{"TOKEN": "secrets.TOKEN"}]},
    ]}]})
    plan = make_plan(spec, root, secrets={"API_KEY": "k-1", "TOKEN": "t-2"}, registry_dir=tmp_path / "r",
                     port_picker=_ports())
    main, mcp = plan.processes
    assert main.env["API_KEY"] == "k-1" and main.env["MODE"] == "fast" and main.env["N"] == "3"
    assert mcp.is_docker and mcp.docker_image == "ghcr.io/acme/mcp-proxy"
    assert mcp.argv == ["--sse-port", "8001"] and mcp.env["TOKEN"] == "t-2"
    assert plan.needs_docker == [mcp]


def test_missing_secret_and_missing_image_folder_are_reported_together(tmp_path: Path) -> None:
    spec = parse_zone({"name": "z", "pods": [{"name": "main-pod", "containers": [
        {"name": "main", "image": "main", "env": {"API_KEY": "secrets.API_KEY"}},
    ]}]})
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
    assert plan.images_to_build == {"autonomy-dev-z-main": root / "images" / "main"}
