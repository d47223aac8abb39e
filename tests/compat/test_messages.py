"""Upstream's message classes: their fields, enums, repr and equality, and the two uses apps make of them
(a model's chat messages, a list of messages to an agent), the latter in an app process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autonomy import (
    AssistantMessage,
    ConversationResponse,
    StreamedConversationSnippet,
    SystemMessage,
    ToolCallResponseMessage,
    UserMessage,
)
from autonomy.agents.messages import ConversationMessage, parse_messages
from autonomy.messages import (
    ConversationRole,
    FunctionToolCall,
    MessageContentType,
    Phase,
    TextContent,
    ToolCall,
    as_chat_message,
)
from tests.compat.conftest import APPS
from tests.support.scripted_llm import Reply, Script


def test_fields_and_enums_are_upstreams() -> None:
    user = UserMessage("hi")
    assert user.content == TextContent("hi", MessageContentType.TEXT)
    assert (user.phase, user.thinking, user.role) == (Phase.EXECUTING, False, ConversationRole.USER)
    system = SystemMessage("be brief")
    assert (system.phase, system.role) == (Phase.SYSTEM, ConversationRole.SYSTEM)
    assert AssistantMessage().tool_calls == [] and AssistantMessage().role is ConversationRole.ASSISTANT
    tool = ToolCallResponseMessage("call_1", "add", "3")
    assert (tool.tool_call_id, tool.name, tool.content.text, tool.role) == ("call_1", "add", "3", ConversationRole.TOOL)
    # Plain enums, as upstream: a role is not equal to its string, and prints with its class.
    assert ConversationRole.USER != "user" and str(Phase.EXECUTING) == "Phase.EXECUTING"
    assert UserMessage(TextContent("x")) == UserMessage("x") != SystemMessage("x")
    assert TextContent("a") + "b" + TextContent("c") == TextContent("abc")


def test_repr_is_upstreams() -> None:
    assert repr(UserMessage("hi")) == (
        "UserMessage(content=TextContent(text='hi', type=<MessageContentType.TEXT: 'text'>), "
        "phase=<Phase.EXECUTING: 'executing'>, thinking=False, role=<ConversationRole.USER: 'user'>)"
    )
    assert str(SystemMessage("be brief")) == (
        "SystemMessage(content=TextContent(text='be brief', type=<MessageContentType.TEXT: 'text'>), "
        "phase=<Phase.SYSTEM: 'system'>, role=<ConversationRole.SYSTEM: 'system'>)"
    )
    call = ToolCall("call_1", FunctionToolCall("add", '{"a": 1}'))
    assert repr(AssistantMessage("", tool_calls=[call])).endswith(
        "tool_calls=[ToolCall(id='call_1', function=FunctionToolCall(name='add', arguments='{\"a\": 1}'), "
        "type='function')], role=<ConversationRole.ASSISTANT: 'assistant'>)"
    )


def test_a_bad_content_is_named() -> None:
    with pytest.raises(TypeError, match="content must be a str or a TextContent, not int"):
        UserMessage(3)  # type: ignore[arg-type]


def test_they_become_chat_messages_and_agent_messages() -> None:
    call = ToolCall("call_1", FunctionToolCall("add", '{"a": 1}'))
    assert as_chat_message(AssistantMessage("", tool_calls=[call])) == {
        "role": "assistant", "content": "",
        "tool_calls": [{"id": "call_1", "function": {"name": "add", "arguments": '{"a": 1}'}, "type": "function"}],
    }
    assert as_chat_message(ToolCallResponseMessage("call_1", "add", "3")) == {
        "role": "tool", "content": "3", "tool_call_id": "call_1", "name": "add"}
    assert as_chat_message({"role": "user", "content": "as is"}) == {"role": "user", "content": "as is"}
    assert [m.text for m in parse_messages(TextContent("plain"))] == ["plain"]
    (system, user) = parse_messages([SystemMessage("rules"), UserMessage("hello")])
    assert (system.role, system.phase.value, system.text) == ("system", "system", "rules")
    assert (user.role, user.text) == ("user", "hello")


async def test_conversation_response_numbers_the_parts_of_an_answer() -> None:
    response = ConversationResponse("alice", "c1", stream=True)
    first = await response.make_snippet(AssistantMessage("Hel"))
    second = await response.make_snippet(ConversationMessage(role="assistant", content="lo"))
    last = await response.make_finished_snippet()
    assert all(isinstance(s, StreamedConversationSnippet) for s in (first, second, last))
    assert [(s.part_nb, s.finished) for s in (first, second, last)] == [(0, False), (1, False), (2, True)]
    assert [m.text for m in first.snippet.messages + second.snippet.messages] == ["Hel", "lo"]
    assert (last.snippet.scope, last.snippet.conversation, last.snippet.messages) == ("alice", "c1", [])
    assert response.counter == 3
    whole = await ConversationResponse("alice", "c1").make_snippet(AssistantMessage("Hello"))
    assert not isinstance(whole, StreamedConversationSnippet) and whole.messages[0].text == "Hello"


def test_an_app_sends_them_to_a_model_and_to_an_agent(script: Script, app_env: dict[str, str]) -> None:
    script.when("capital of France", Reply(text="Paris."))
    script.when("2 + 2", Reply(text="4."))
    env = {**app_env, "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0"}
    done = subprocess.run([sys.executable, str(APPS / "messages_app.py")], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert [ln for ln in done.stdout.splitlines() if ln.startswith(("MODEL", "AGENT", "PRINTED", "CONTENT"))] == [
        "MODEL Paris.",
        "AGENT 4.",
        # an agent's reply prints as upstream's AssistantMessage does
        "PRINTED AssistantMessage(content=TextContent(text='4.', type=<MessageContentType.TEXT: 'text'>), "
        "phase=<Phase.EXECUTING: 'executing'>, thinking=False, tool_calls=[], "
        "role=<ConversationRole.ASSISTANT: 'assistant'>)",
        "CONTENT TextContent(text='4.', type=<MessageContentType.TEXT: 'text'>)",
    ]
    to_model, to_agent = script.requests
    assert to_model["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    said = [(m["role"], m["content"]) for m in to_agent["messages"] if m["role"] == "user"]
    assert said == [("user", "I have two questions."), ("user", "What is 2 + 2?")]
