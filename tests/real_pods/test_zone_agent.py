"""examples/agent on real pods (issue 11, test 2): its node and its MCP server container in one pod (they
share localhost), its model the scripted OpenAI-compatible server listening on the node's address (which
pods reach, and nothing beyond the machine); `POST /agents/helper` answers through the Service, streamed
too, and `autonomy zone logs` shows both containers' real output."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_engine import ROOT
from tests.k8s_fixtures import RealCluster, load_realnode
from tests.real_pods.conftest import Cli, get_json, wait_until
from tests.support.scripted_llm import ScriptedLLM
from tests.zone_dev_support import NOTE, QUESTION, script_agent_example

pytestmark = [pytest.mark.docker, pytest.mark.control_plane, pytest.mark.timeout(1800)]


@pytest.fixture
def node_llm() -> Iterator[ScriptedLLM]:
    """The scripted model on the node's /32 (10.250.0.1): reachable from pods, bound to nothing public."""
    llm = ScriptedLLM(host=load_realnode().NODE_IP).start()
    yield llm
    llm.stop()


def post(url: str, body: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:  # not listening yet
        return 0, str(error)


def test_agent_with_its_mcp_container_answers_through_the_service(
    real_cluster: RealCluster, cli: Cli, node_llm: ScriptedLLM, tmp_path: Path
) -> None:
    k8s = real_cluster.k8s
    namespace = f"rp-agent-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("create", "namespace", namespace)
    project = tmp_path / "agent"
    shutil.copytree(ROOT / "examples" / "agent", project)
    # In the default size (regular: 250m, 256Mi per clone, split between its two containers) the agent
    # node is OOM-killed at start on a real kubelet (128Mi for a node that loads the OpenAI and MCP SDKs):
    # the test runs it `big` (1 CPU, 1Gi on this tier's Cluster). The example itself should say so.
    config = project / "autonomy.yaml"
    config.write_text(config.read_text().replace("  - name: main-pod\n    public: true\n",
                                                 "  - name: main-pod\n    public: true\n    size: big\n"))
    assert "size: big" in config.read_text()
    secrets = project / "secrets.yaml"
    secrets.write_text(f"OPENAI_API_KEY: test\nOPENAI_BASE_URL: {node_llm.base_url}\n")
    script_agent_example(node_llm.script)
    try:
        wait_until("the default ServiceAccount", lambda: k8s.kubectl(
            "get", "sa", "default", "-n", namespace, check=False).returncode == 0, timeout=30)  # fmt: skip
        cli.run("zone", "deploy", "--config", str(project / "autonomy.yaml"), "--secrets", str(secrets), "--wait",
                "--timeout", "300", "--namespace", namespace)  # fmt: skip
        pods = get_json(k8s, "pods", "-n", namespace, "-l", "autonomy.computer/zone=agent")["items"]
        assert len(pods) == 1 and {c["name"] for c in pods[0]["spec"]["containers"]} == {"main", "tools"}
        service = get_json(k8s, "services", "-n", namespace, "-l", "autonomy.computer/pod=main-pod")["items"][0]
        url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}/agents/helper"
        # The nodes serve a little after Ready while their containers have no readiness probe.
        deadline = time.monotonic() + 120
        status, text = post(url, {"message": QUESTION})
        while status in (0, 502, 503) and time.monotonic() < deadline:
            time.sleep(0.5)
            status, text = post(url, {"message": QUESTION})
        if status != 200:
            pod = pods[0]["metadata"]["name"]
            logs = {c: k8s.kubectl("logs", pod, "-c", c, "-n", namespace, "--tail=30", check=False)
                    for c in ("main", "tools")}  # fmt: skip
            state = get_json(k8s, "pod", pod, "-n", namespace)["status"].get("containerStatuses")
            pytest.fail(f"POST {url}: {status} {text[:500]}\nmodel requests: {len(node_llm.script.requests)}\n"
                        f"containers: {json.dumps(state)[:1500]}\n"
                        + "\n".join(f"--- {c}:\n{r.stdout[-3000:]}{r.stderr[-500:]}" for c, r in logs.items()))
        words = len(NOTE.split())
        assert json.loads(text)[-1]["content"]["text"] == f"The note about deployments has {words} words."
        requests = node_llm.script.requests
        assert len(requests) == 3
        # The MCP server's tool (the `tools` container, over the pod's localhost) returned the note.
        assert requests[1]["messages"][-1]["role"] == "tool" and requests[1]["messages"][-1]["content"] == NOTE
        # Streamed: newline-delimited JSON snippets, ending with the same answer.
        status, streamed = post(url + "?stream=true", {"message": QUESTION, "conversation": "streamed"})
        assert status == 200, streamed
        lines = [json.loads(line) for line in streamed.splitlines() if line.strip()]
        texts = "".join(str(m.get("content", {}).get("text", "")) for line in lines for m in line.get("messages", [])
                        if m.get("role") == "assistant")  # fmt: skip
        assert len(lines) > 1 and f"The note about deployments has {words} words." in texts, lines
        # Both containers' real output, through the kubelet's logs.
        logs = cli.run("zone", "logs", "agent", "--namespace", namespace).stdout
        assert "main-pod" in logs and "/tools" in logs and "/main" in logs, logs[-2000:]
        assert "Uvicorn running on" in logs, logs[-2000:]
    finally:
        cli.run("zone", "delete", "agent", "--yes", "--namespace", namespace, check=False)
        k8s.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
