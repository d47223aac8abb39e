"""Commands end to end in-process (typer's runner): exit codes and messages scripts rely on."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autonomy.cli.exits import Exit
from autonomy.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTONOMY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "autonomy.yaml"
    path.write_text(text)
    return path


def test_invalid_autonomy_yaml_lists_every_problem_with_its_field(tmp_path: Path) -> None:
    config = _write(tmp_path / "z", """
name: Bad_Name
pods:
  - name: runner-pod
    clones: 0
    containers:
      - {name: main, image: main, env: {NODE: x}}
  - name: other
    size: huge
    containers: []
""")
    for command in (["zone", "deploy", "--dry-run"], ["zone", "dev"]):
        result = runner.invoke(app, [*command, "--config", str(config)])
        assert result.exit_code == Exit.CONFIG, result.output
        for field in ("name:", "pods[0].clones", "pods[0].containers[0].env[0].name", "pods[1].size",
                      "pods[1].containers", "pods: no pod is named 'main-pod'"):
            assert field in result.output, (field, result.output)
        assert "1 to 100" in result.output  # what is allowed, not just what is wrong


def test_not_yaml_and_missing_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _write(tmp_path / "z", "name: [unclosed\n")
    result = runner.invoke(app, ["zone", "deploy", "--dry-run", "--config", str(config)])
    assert result.exit_code == Exit.CONFIG
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["zone", "dev"])
    assert result.exit_code == Exit.CONFIG and "no autonomy.yaml" in result.output


def test_dry_run_prints_manifests_and_redacts_secrets(tmp_path: Path) -> None:
    config = _write(tmp_path / "z", """
name: demo
pods:
  - name: main-pod
    public: true
    containers:
      - {name: main, image: main, env: {API_KEY: secrets.API_KEY}}
      - {name: mcp, image: ghcr.io/acme/mcp:1}
""")
    (tmp_path / "z" / "secrets.yaml").write_text("API_KEY: sk-very-secret\n")
    result = runner.invoke(app, ["zone", "deploy", "--dry-run", "--config", str(config), "-n", "apps",
                                 "--registry", "reg.example:5000"])
    assert result.exit_code == 0, result.output
    secret, zone = list(yaml.safe_load_all(result.stdout))
    assert secret["kind"] == "Secret" and secret["metadata"] == {
        "name": "demo-secrets", "namespace": "apps",
        "labels": {"autonomy.computer/zone": "demo", "app.kubernetes.io/managed-by": "autonomy-cli"}}
    assert secret["stringData"] == {"API_KEY": "<redacted>"}
    assert "sk-very-secret" not in result.output
    assert zone["kind"] == "Zone" and zone["metadata"]["namespace"] == "apps"
    images = [c["image"] for c in zone["spec"]["pods"][0]["containers"]]
    assert images == ["reg.example:5000/demo-main:<built>", "ghcr.io/acme/mcp:1"]


def test_zone_dev_says_what_it_cannot_run_without_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "z"
    (folder / "images" / "main").mkdir(parents=True)
    (folder / "images" / "main" / "main.py").write_text("")
    config = _write(folder, """
name: demo
pods:
  - name: main-pod
    containers:
      - {name: main, image: main}
      - {name: mcp, image: ghcr.io/acme/mcp:1}
""")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = runner.invoke(app, ["zone", "dev", "--config", str(config)])
    assert result.exit_code == Exit.DOCKER, result.output
    assert "main-pod/mcp: image ghcr.io/acme/mcp:1" in result.output


def test_usage_errors(tmp_path: Path) -> None:
    config = ROOT / "examples" / "fanout" / "autonomy.yaml"
    assert runner.invoke(app, ["zone", "dev", "--config", str(config), "--env", "NOEQUALS"]).exit_code == Exit.USAGE
    assert runner.invoke(app, ["zone", "list", "-o", "xml"]).exit_code == Exit.USAGE


def test_cluster_commands_without_a_kubeconfig_exit_with_cluster_code() -> None:
    for command in (["cluster", "show"], ["zone", "list"], ["cluster", "enroll", "--no-input"]):
        result = runner.invoke(app, command)
        assert result.exit_code == Exit.CLUSTER, (command, result.output)


def test_unreachable_cluster_exits_with_cluster_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    config = ROOT / "examples" / "fanout" / "autonomy.yaml"
    result = runner.invoke(app, ["zone", "deploy", "--config", str(config)])
    assert result.exit_code == Exit.CLUSTER, result.output
    assert "127.0.0.1:1" in result.output or "connect" in result.output
