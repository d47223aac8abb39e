"""The framework's own instructions, appended to the agent's: how to use the built-in tools it was given."""

from __future__ import annotations

from collections.abc import Iterable

_TIME = "To know the current date or time, call get_current_time_utc or get_current_time(timezone)."
_FILES = (
    "You have a private filesystem (tools list_directory, read_file, write_file, edit_file, find_files, "
    "search_in_files, ...). Paths start at '/'. Keep long-term notes there: /memory.md for facts worth "
    "remembering, /plans/ for plans, /notes/ for findings, /tasks.md for a task list. "
    "Read them before long work."
)
_ASK = (
    "When you need information only the user has, call ask_user_for_input(question); the conversation pauses "
    "until the user answers, and the answer comes back as the result of that call."
)
_SUBAGENTS = (
    "You can delegate work to subagents: start_subagent(role), delegate_to_subagent(role, task), "
    "delegate_to_subagents_parallel(role, tasks) for many independent tasks at once, list_subagents(), "
    "stop_subagent(role). Give each task everything the subagent needs to know."
)


def framework_instructions(tool_names: Iterable[str]) -> str:
    names = set(tool_names)
    parts = []
    if "get_current_time_utc" in names:
        parts.append(_TIME)
    if "write_file" in names and "read_file" in names:
        parts.append(_FILES)
    if "ask_user_for_input" in names:
        parts.append(_ASK)
    if "delegate_to_subagent" in names:
        parts.append(_SUBAGENTS)
    return "\n\n".join(parts)
