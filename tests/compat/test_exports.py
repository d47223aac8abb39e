"""Upstream's export list: every name of upstream's `autonomy.__all__` that exists here imports from
`autonomy` as an app writes it, and each one still missing is listed below, so adding one means moving it
from MISSING (and a test of its behaviour under tests/compat)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import autonomy

# Upstream's `autonomy/__init__.py` `__all__` (build-trust/autonomy at 4053093), in its order.
UPSTREAM_ALL = [
    "Agent", "AgentReference", "HttpServer", "NodeDep", "WebSocketNodeDep", "Repl", "ConversationResponse",
    "ContextSection", "AdditionalContextSection", "SummarizedHistorySection", "ContextSummaryConfig",
    "RustMailbox", "McpClient", "McpServer",
    "Eval", "Metric", "TestCase", "TestOk", "TestError",
    "get_logger", "info", "warning", "error", "debug", "set_log_level", "set_log_levels", "InfoContext",
    "DebugContext",
    "Model", "VoiceConfig",
    "Node", "RemoteNode", "NodeController", "NodeRequest", "NodeResponse", "Mailbox", "Worker", "Context",
    "SystemMessage", "UserMessage", "AssistantMessage", "ToolCallResponseMessage", "FlowReference",
    "Flow", "FlowOperation", "START", "END",
    "Cluster", "Zone",
    "Memory",
    "McpTool", "Tool", "FilesystemTools", "ToolFactory", "Subagents",
    "Workspace", "WorkspaceMode",
    "gather",
    "Knowledge", "KnowledgeProvider", "KnowledgeAggregator", "UnsearchableKnowledge", "SearchableKnowledge",
    "NoopKnowledge", "Database", "InMemory", "SearchHit", "SearchResults", "TextPiece", "TextExtractor", "Chunker",
    "NaiveChunker", "KnowledgeTool",
]

# Not here yet (issue 15's later parts), each with what it waits for.
MISSING = {
    # context sections and summaries: the agents' context template
    "ContextSection": "context", "AdditionalContextSection": "context", "SummarizedHistorySection": "context",
    "ContextSummaryConfig": "context",
    "Eval": "evals", "Metric": "evals", "TestCase": "evals", "TestOk": "evals", "TestError": "evals",
    "VoiceConfig": "voice",
    # upstream's dill-pickled controller RPC; this runtime's controller speaks JSON ops
    "NodeRequest": "controller", "NodeResponse": "controller",
    "FlowReference": "flows", "Flow": "flows", "FlowOperation": "flows", "START": "flows", "END": "flows",
    "Cluster": "clusters",
    "Subagents": "subagents",
    "Workspace": "workspace", "WorkspaceMode": "workspace",
    **dict.fromkeys([
        "Knowledge", "KnowledgeProvider", "KnowledgeAggregator", "UnsearchableKnowledge", "SearchableKnowledge",
        "NoopKnowledge", "Database", "InMemory", "SearchHit", "SearchResults", "TextPiece", "TextExtractor",
        "Chunker", "NaiveChunker", "KnowledgeTool"], "knowledge"),
}

FUNCTIONS = {"gather", "get_logger", "info", "warning", "error", "debug", "set_log_level", "set_log_levels"}


def test_the_lists_cover_upstreams_names_exactly() -> None:
    assert len(UPSTREAM_ALL) == len(set(UPSTREAM_ALL)) == 73
    assert set(MISSING) <= set(UPSTREAM_ALL)


def test_every_upstream_name_here_imports_as_apps_write_it() -> None:
    present = [name for name in UPSTREAM_ALL if name not in MISSING]
    # One `from autonomy import ...` in a fresh interpreter, as an app's first line.
    code = (f"import inspect, json\nfrom autonomy import {', '.join(present)}\n"
            f"print(json.dumps({{n: inspect.isclass(globals()[n]) for n in {present!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    kinds = json.loads(done.stdout.splitlines()[-1])
    assert sorted(n for n, is_class in kinds.items() if not is_class) == sorted(FUNCTIONS | {"NodeDep",
                                                                                            "WebSocketNodeDep"})
    assert inspect.iscoroutinefunction(autonomy.gather)


def test_missing_names_are_really_missing() -> None:
    """When one lands, it moves out of MISSING: the list stays the truth."""
    assert [name for name in MISSING if name in autonomy.__all__ or hasattr(autonomy, name)] == []


# Upstream's `autonomy/logs/__init__.py` `__all__`: apps import these from `autonomy.logs` too.
UPSTREAM_LOGS_ALL = ["Formatter", "Logger", "info", "debug", "warning", "error", "get_logger", "set_log_level",
                     "set_log_levels", "get_log_levels", "apply_log_levels", "InfoContext", "DebugContext"]


def test_the_logs_module_has_upstreams_names() -> None:
    import logging

    import autonomy.logs as logs

    assert set(UPSTREAM_LOGS_ALL) <= set(logs.__all__)
    assert all(getattr(logs, name) is not None for name in logs.__all__)
    assert logs.Logger is logging.Logger
    assert logs.info is autonomy.info and logs.InfoContext is autonomy.InfoContext


def test_the_rust_mailbox_is_this_runtimes_mailbox() -> None:
    assert autonomy.RustMailbox is autonomy.Mailbox
