"""The public face of `autonomy` is a promise: adding or removing a name must be deliberate."""

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import autonomy

EXPECTED_CORE = {
    "AddressNotFound", "AutonomyError", "DeadlineExceeded", "DeliveryError", "HttpServer", "MailboxFull",
    "MessageTooLarge", "Node", "NodeDep", "NodeNotFound", "NodeSettings", "PeerGone", "PeerRejected",
    "RemoteError", "RemoteNode", "SpecError", "WebSocketNodeDep", "WorkerError", "Zone",
}


def test_core_names_are_exported() -> None:
    assert EXPECTED_CORE <= set(autonomy.__all__)


def test_all_is_sorted_unique_and_importable() -> None:
    assert autonomy.__all__ == sorted(set(autonomy.__all__))
    for name in autonomy.__all__:
        assert getattr(autonomy, name) is not None


# -- the names load on first use (PEP 562): `import autonomy` (and so the CLI) stays cheap -------------------

INIT = Path(autonomy.__file__)
HEAVY = ("anthropic", "openai", "mcp", "grpc", "fastapi", "uvicorn", "kubernetes", "kubernetes_asyncio", "pydantic")


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the imports under `if TYPE_CHECKING:` in autonomy/__init__.py: what mypy sees."""
    tree = ast.parse(INIT.read_text())
    blocks = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    assert len(blocks) == 1
    return {
        alias.asname or alias.name: str(statement.module)
        for statement in blocks[0].body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }


def _fresh(code: str) -> Any:
    """Run `code` in a new interpreter (this one has imported everything) and return what it printed as JSON."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_type_checkers_and_the_runtime_see_the_same_names() -> None:
    assert _type_checking_imports() == autonomy._SOURCES
    assert sorted(autonomy._SOURCES) == autonomy.__all__


def test_import_autonomy_loads_no_submodule() -> None:
    loaded = _fresh("import json, sys, autonomy; print(json.dumps(sorted(sys.modules)))")
    assert [m for m in loaded if m.startswith("autonomy.")] == []
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []


def test_every_public_name_imports_as_the_object_its_module_defines() -> None:
    sources = _type_checking_imports()
    # One `from autonomy import ...` of every name, as apps write it, then each compared with the object its
    # source module holds and, for classes, with the class where it is defined (no proxies, no copies).
    report = _fresh(f"""
import importlib, inspect, json, sys
from autonomy import {", ".join(sorted(sources))}
sources = {sources!r}
out = {{}}
for name, module in sources.items():
    obj = globals()[name]
    out[name] = {{
        "same": obj is getattr(importlib.import_module(module), name),
        "class": inspect.isclass(obj),
        "defined": inspect.isclass(obj) and obj.__module__.startswith("autonomy.")
        and getattr(sys.modules[obj.__module__], obj.__qualname__) is obj,
    }}
print(json.dumps(out))
""")
    assert sorted(report) == autonomy.__all__
    assert [name for name, r in report.items() if not r["same"]] == []
    # Every name is a class defined in the framework, but the two FastAPI dependency aliases and upstream's
    # helper functions (gather and the logging ones).
    assert sorted(name for name, r in report.items() if not r["class"]) == [
        "NodeDep", "WebSocketNodeDep", "debug", "error", "gather", "get_logger", "info", "set_log_level",
        "set_log_levels", "warning",
    ]
    assert [name for name, r in report.items() if r["class"] and not r["defined"]] == []


def test_a_node_from_the_package_serves_http() -> None:
    """The http layer registers the default server on import; `from autonomy import Node` must load it."""
    served = _fresh("""
import json
from autonomy import Node
print(json.dumps(type(Node()._http).__qualname__))
""")
    assert served == "HttpServer"


def test_a_node_without_agents_loads_no_model_sdk() -> None:
    """Runner nodes (`Node.start()` and nothing else) start in a fraction of a second: the HTTP routes of the
    agents must not pull in the agents layer, the model SDKs and MCP until an agent exists."""
    loaded = _fresh("""
import json, sys
from autonomy import Node
Node()
print(json.dumps(sorted(sys.modules)))
""")
    assert [m for m in loaded if m.split(".")[0] in ("anthropic", "openai", "mcp")] == []
    assert [m for m in loaded if m.startswith(("autonomy.models", "autonomy.agents.agent"))] == []
    assert "autonomy.http.routes.agent_calls" in loaded  # the routes are there, only their imports wait


def test_agents_package_names_match_their_modules() -> None:
    import autonomy.agents as agents

    assert agents.__all__ == sorted(agents._SOURCES)
    for name in agents.__all__:
        value = getattr(agents, name)
        assert value.__module__ == agents._SOURCES[name], name


def test_unknown_names_fail_as_they_did() -> None:
    assert "Agent" in dir(autonomy) and "__version__" in dir(autonomy)
    assert not hasattr(autonomy, "NoSuchName")
    with pytest.raises(ImportError, match="NoSuchName"):
        from autonomy import NoSuchName  # type: ignore[attr-defined]  # noqa: F401
