from __future__ import annotations

import pytest

from autonomy.models import ModelConfigurationError, resolve
from autonomy.models.anthropic_provider import to_anthropic


def test_nothing_configured_says_what_to_set() -> None:
    with pytest.raises(ModelConfigurationError) as caught:
        resolve("gpt-4o", env={})
    text = str(caught.value)
    assert "OPENAI_BASE_URL" in text and "ANTHROPIC_API_KEY" in text and "AUTONOMY_MODELS" in text


def test_openai_env_vars_select_openai() -> None:
    config = resolve("llama3", env={"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert (config.provider, config.base_url, config.model) == (
        "openai",
        "http://localhost:11434/v1",
        "llama3",
    )
    assert config.api_key  # local servers need no key, the SDK gets a placeholder


def test_claude_goes_to_anthropic_with_alias_resolved() -> None:
    env = {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "o"}
    config = resolve("claude-sonnet-4-v1", env=env)
    assert config.provider == "anthropic" and config.model.startswith("claude-sonnet-4-2")
    assert resolve("gpt-4o", env=env).provider == "openai"


def test_model_map_with_glob_and_key_env() -> None:
    env = {
        "AUTONOMY_MODELS": '{"claude-*": {"provider": "openai", "base_url": "http://litellm:4000", '
        '"api_key_env": "LITELLM_KEY"}}',
        "LITELLM_KEY": "secret",
    }
    config = resolve("claude-sonnet-4-5", env=env)
    assert (config.provider, config.base_url, config.api_key) == ("openai", "http://litellm:4000", "secret")


def test_wrong_provider_names_the_choices() -> None:
    with pytest.raises(ModelConfigurationError, match="openai"):
        resolve("x", env={"AUTONOMY_MODEL_PROVIDER": "bedrock"})
    with pytest.raises(ModelConfigurationError, match="not valid JSON"):
        resolve("x", env={"AUTONOMY_MODELS": "{"})


def test_anthropic_without_key_is_explained() -> None:
    with pytest.raises(ModelConfigurationError, match="ANTHROPIC_API_KEY"):
        resolve("claude-x", env={"AUTONOMY_MODEL_PROVIDER": "anthropic"})


def test_messages_translate_to_anthropic_with_tool_pairs() -> None:
    system, messages = to_anthropic(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "add"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
                    {"id": "t2", "type": "function", "function": {"name": "add", "arguments": '{"a": 2}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "1"},
            {"role": "tool", "tool_call_id": "t2", "content": "2"},
        ]
    )
    assert system == "be brief"
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][0] == {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}}
    assert [b["tool_use_id"] for b in messages[2]["content"]] == ["t1", "t2"]
