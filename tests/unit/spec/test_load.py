"""autonomy.yaml parsing: what is accepted, and every problem reported at once with its path and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autonomy.spec import ZoneConfigError, ZoneSpec, load_zone, parse_zone


def zone(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "myapp",
        "pods": [{"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]}],
    }
    data.update(overrides)
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(ZoneConfigError) as caught:
        parse_zone(data)
    return caught.value.problems


def test_minimal_zone_gets_defaults() -> None:
    spec = parse_zone(zone())
    pod = spec.pods[0]
    assert (spec.name, pod.name, pod.public, pod.size, pod.clones) == (
        "myapp",
        "main-pod",
        True,
        "regular",
        1,
    )
    assert pod.containers[0].env == [] and pod.containers[0].args == []
    assert spec.suspend is False


def test_upstream_fan_out_example_parses() -> None:
    spec = parse_zone(
        {
            "name": "review",
            "pods": [
                {
                    "name": "main-pod",
                    "public": True,
                    "containers": [
                        {"name": "main", "image": "main", "env": [{"API_KEY": "secrets.API_KEY"}]},
                        {
                            "name": "mcp",
                            "image": "ghcr.io/build-trust/mcp-proxy",
                            "args": ["--sse-port", 8001, "--", "npx"],
                        },
                    ],
                    "portals": {"outlets": [{"to": "localhost:7000"}]},
                },
                {
                    "name": "runner-pod",
                    "size": "big",
                    "clones": 5,
                    "containers": [{"name": "runner", "image": "runner"}],
                },
            ],
        }
    )
    assert spec.pods[1].clones == 5 and spec.pods[1].size == "big"
    assert spec.pods[0].containers[1].args == ["--sse-port", "8001", "--", "npx"]
    assert spec.secret_keys() == {"API_KEY"}
    assert spec.main_pod.name == "main-pod"


@pytest.mark.parametrize(
    "env",
    [
        {"A": "1", "B": "secrets.TOKEN", "PORT": 8000, "DEBUG": True},
        [{"A": "1"}, {"B": "secrets.TOKEN"}, {"PORT": 8000}, {"DEBUG": True}],
        [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "secrets.TOKEN"},
            {"name": "PORT", "value": 8000},
            {"name": "DEBUG", "value": True},
        ],
    ],
)
def test_the_three_env_forms_mean_the_same(env: Any) -> None:
    spec = parse_zone(
        zone(pods=[{"name": "p", "containers": [{"name": "main", "image": "main", "env": env}]}])
    )
    got = [(e.name, e.value, e.secret_key) for e in spec.pods[0].containers[0].env]
    assert got == [
        ("A", "1", None),
        ("B", "secrets.TOKEN", "TOKEN"),
        ("PORT", "8000", None),
        ("DEBUG", "true", None),
    ]


def test_zone_name_alias_of_upstream() -> None:
    data = zone()
    data["zone_name"] = data.pop("name")
    assert parse_zone(data).name == "myapp"


def test_every_problem_is_reported_at_once_with_path_and_fix() -> None:
    problems = problems_of(
        {
            "name": "My_App",
            "pods": [
                {
                    "name": "a",
                    "size": "huge",
                    "clones": 0,
                    "containers": [{"name": "Main_C", "image": "", "colour": "red", "env": {"ZONE": "x"}}],
                },
                {"name": "a", "containers": []},
            ],
        }
    )
    assert "name: 'My_App' is not allowed (1-10 characters of a-z and 0-9)" in problems
    assert "pods[0].size: 'huge' is not allowed (one of: regular, big)" in problems
    assert "pods[0].clones: 0 is not allowed (a whole number from 1 to 100)" in problems
    assert any(
        p.startswith(
            "pods[0].containers[0].name: 'Main_C' is not allowed (1-10 characters of a-z, 0-9 and '-'"
        )
        for p in problems
    )
    assert any(p.startswith("pods[0].containers[0].image: is empty (") for p in problems)
    assert any(
        p.startswith("pods[0].containers[0].colour: is not a known field (allowed: name, image")
        for p in problems
    )
    assert "pods[1].containers: is empty (a pod needs at least one container)" in problems
    assert "pods[1].name: 'a' is used by pods[0] too (pod names must be unique)" in problems
    assert any(
        p.startswith("pods[0].containers[0].env[0].name: 'ZONE' is set by the operator") for p in problems
    )
    assert any(p.startswith("pods: no pod is named 'main-pod'") for p in problems)
    assert len(problems) == 10, problems


def test_duplicate_container_and_env_names() -> None:
    problems = problems_of(
        zone(
            pods=[
                {
                    "name": "main-pod",
                    "containers": [
                        {"name": "main", "image": "main", "env": [{"A": "1"}, {"name": "A", "value": "2"}]},
                        {"name": "main", "image": "other"},
                    ],
                }
            ]
        )
    )
    assert problems == [
        "pods[0].containers[0].env[1].name: 'A' is set twice (env names must be unique in a container)",
        "pods[0].containers[1].name: 'main' is used by pods[0].containers[0] too "
        "(container names must be unique in a pod)",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], "(top level): a mapping with `name` and `pods` is required, not list"),
        (
            {"pods": [{"name": "p", "containers": [{"name": "c", "image": "i"}]}]},
            "name: is required (add `name`)",
        ),
        (zone(pods=[]), "pods: is empty (a zone needs at least one pod)"),
        (zone(name="elevenchars"), "name: 'elevenchars' is not allowed (1-10 characters of a-z and 0-9)"),
        (
            zone(pods=[{"name": "p", "public": "maybe", "containers": [{"name": "c", "image": "i"}]}]),
            "pods[0].public: 'maybe' is not allowed (true or false)",
        ),
        (
            zone(pods=[{"name": "p", "containers": [{"name": "c", "image": "i", "env": {"1BAD": "x"}}]}]),
            "pods[0].containers[0].env[0].name: '1BAD' is not allowed "
            "(1-128 letters, digits and '_', not starting with a digit)",
        ),
        (
            zone(
                pods=[{"name": "p", "containers": [{"name": "c", "image": "i", "env": {"K": "secrets.a b"}}]}]
            ),
            "pods[0].containers[0].env[0].value: 'secrets.a b' is not a valid secret reference "
            "(secrets.KEY where KEY is 1-253 characters of letters, digits, '-', '_' and '.')",
        ),
    ],
)
def test_single_problems(data: Any, expected: str) -> None:
    assert problems_of(data) == [expected]


def test_load_zone_reads_yaml_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "autonomy.yaml"
    path.write_text(
        "name: hello\npods:\n  - name: main-pod\n    containers:\n      - name: main\n        image: main\n"
    )
    assert isinstance(load_zone(path), ZoneSpec)
    path.write_text("name: hello\npods: [\n")
    with pytest.raises(ZoneConfigError) as caught:
        load_zone(path)
    assert caught.value.source == str(path)
    assert caught.value.problems[0].startswith("line ")
    assert "not valid YAML" in caught.value.problems[0]
    with pytest.raises(ZoneConfigError, match="cannot be read"):
        load_zone(tmp_path / "missing.yaml")


def test_zone_manifest_is_the_zone_resource() -> None:
    spec = parse_zone(
        zone(
            pods=[
                {
                    "name": "main-pod",
                    "containers": [
                        {"name": "main", "image": "main", "env": {"A": 1}, "imagePullPolicy": "Never"}
                    ],
                }
            ]
        )
    )
    manifest = spec.zone_manifest("team")
    assert manifest["apiVersion"] == "autonomy.computer/v1alpha1" and manifest["kind"] == "Zone"
    assert manifest["metadata"] == {"name": "myapp", "namespace": "team"}
    assert "name" not in manifest["spec"] and "suspend" not in manifest["spec"]
    container = manifest["spec"]["pods"][0]["containers"][0]
    assert container["env"] == [{"name": "A", "value": "1"}] and container["imagePullPolicy"] == "Never"
    # The resource's spec round-trips through the parser.
    assert parse_zone({"name": "myapp", **manifest["spec"]}) == spec


def test_node_container_is_main_then_first_local_image() -> None:
    spec = parse_zone(
        zone(
            pods=[
                {
                    "name": "main-pod",
                    "containers": [
                        {"name": "mcp", "image": "ghcr.io/x/mcp"},
                        {"name": "api", "image": "api"},
                        {"name": "main", "image": "main"},
                    ],
                },
                {"name": "tools", "containers": [{"name": "db", "image": "docker.io/library/postgres"}]},
            ]
        )
    )
    assert spec.pods[0].node_container is not None and spec.pods[0].node_container.name == "main"
    assert spec.pods[1].node_container is None
