"""Schemathesis against the node's own OpenAPI document, with an agent behind it whose model is the
scripted server: whatever a client sends, within the document (positive cases) or not (negative ones), the
node answers without a 5xx.

Bounded: a fixed number of examples per operation, no shrinking past a few seconds, one minute in all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from tests.support.scripted_llm import Reply, ScriptedLLM

from .conftest import NodeProcess

AGENT_MAIN = Path(__file__).with_name("agent_node_main.py")
EXAMPLES_PER_OPERATION = 30


@pytest.fixture(scope="module")
def fuzzed_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    llm = ScriptedLLM().start()
    llm.script.default = Reply(text="ok")
    env = {
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "test",
        "AGENT_SPECS": json.dumps([{"name": "henry", "instructions": "You are Henry.", "tools": ["add"],
                                    "exposed_as": "Henry adds numbers"}]),
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "AUTONOMY_FILES_DIR": str(tmp_path_factory.mktemp("files")),
    }
    node = NodeProcess("fuzzed-node", "main-pod", tmp_path_factory.mktemp("registry"), extra_env=env,
                       script=AGENT_MAIN).start()
    try:
        yield node
    finally:
        if node.alive():
            node.terminate()
        if node.process is not None and node.process.stdout is not None:
            node.process.stdout.close()
        llm.stop()


@pytest.fixture(scope="module")
def node_schema(fuzzed_node: NodeProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{fuzzed_node.http_port}/openapi.json")


def _operation_test(operation: schemathesis.APIOperation) -> Callable[[], None]:
    both = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=both)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        timeout = case.query.get("timeout") if isinstance(case.query, dict) else None
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and 0 < timeout < 5:
            case.query["timeout"] = 5  # shorter than the agent takes to answer is a fair 504
        case.call_and_validate(checks=[not_a_server_error], timeout=30)

    return check


@pytest.mark.timeout(240)
def test_no_server_errors(node_schema: schemathesis.BaseSchema) -> None:
    # schemathesis' own pytest loader (`from_fixture`) does not work with pytest 9: each operation is driven
    # with hypothesis here instead, through the documented `as_strategy`.
    operations = [result.ok() for result in node_schema.get_all_operations()]
    assert {"/agents/{name}", "/logs/levels"} <= {operation.path for operation in operations}
    call = next(o for o in operations if o.path == "/agents/{name}" and o.method.upper() == "POST")
    assert call.definition.raw.get("requestBody"), "the document must describe the body of an agent call"
    for operation in operations:
        _operation_test(operation)()
