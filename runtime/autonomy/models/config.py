"""Which provider serves a model name, at which URL, with which key.

Order of precedence, first match wins:
1. arguments given to `Model(...)` (`provider=`, `base_url=`, `api_key=`);
2. the model map: `AUTONOMY_MODELS` (inline JSON) or `AUTONOMY_MODELS_FILE` (a JSON or YAML file),
   mapping a name or a glob (`"claude-*"`) to
   `{"provider": "openai"|"anthropic", "model"?, "base_url"?, "api_key_env"?}`;
3. `AUTONOMY_MODEL_PROVIDER` (`openai` or `anthropic`) for every model;
4. the providers' own variables: a `claude*` name goes to Anthropic when `ANTHROPIC_API_KEY` or
   `ANTHROPIC_BASE_URL` is set; anything else goes to the OpenAI-compatible endpoint when `OPENAI_BASE_URL` or
   `OPENAI_API_KEY` is set (vLLM, Ollama, LiteLLM, OpenRouter, OpenAI); failing both, whichever one is set.

Nothing set gives one `ModelConfigurationError` that lists what to set.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from autonomy.models.errors import ModelConfigurationError

Provider = Literal["openai", "anthropic"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic")

#: Upstream's aliases for Claude models, resolved to Anthropic API names when Anthropic serves them.
ANTHROPIC_ALIASES: dict[str, str] = {
    "claude-sonnet-4-v1": "claude-sonnet-4-20250514",
    "claude-opus-4-v1": "claude-opus-4-20250514",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-sonnet-4-5": "claude-sonnet-4-5",
    "claude-haiku-4-5": "claude-haiku-4-5",
    "claude-opus-4-5": "claude-opus-4-5",
}

HOW_TO_CONFIGURE = (
    "set OPENAI_BASE_URL (and OPENAI_API_KEY if the endpoint needs one) for an OpenAI-compatible endpoint "
    "(vLLM, Ollama, LiteLLM, OpenRouter, OpenAI), or ANTHROPIC_API_KEY for Anthropic; "
    "or map model names to providers in AUTONOMY_MODELS / AUTONOMY_MODELS_FILE, "
    'e.g. AUTONOMY_MODELS=\'{"llama*": {"provider": "openai", "base_url": "http://localhost:11434/v1"}}\''
)


@dataclass(frozen=True)
class ProviderConfig:
    """Everything needed to build a provider client for one model."""

    provider: Provider
    model: str
    base_url: str | None
    api_key: str | None


def _load_map(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    raw: Any = None
    if env.get("AUTONOMY_MODELS"):
        try:
            raw = json.loads(env["AUTONOMY_MODELS"])
        except json.JSONDecodeError as error:
            raise ModelConfigurationError(f"AUTONOMY_MODELS is not valid JSON: {error}") from error
    elif env.get("AUTONOMY_MODELS_FILE"):
        path = env["AUTONOMY_MODELS_FILE"]
        try:
            with open(path, encoding="utf-8") as file:
                raw = yaml.safe_load(file)  # YAML is a superset of JSON
        except (OSError, yaml.YAMLError) as error:
            raise ModelConfigurationError(f"AUTONOMY_MODELS_FILE={path} cannot be read: {error}") from error
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ModelConfigurationError(
            'the model map must be an object of name -> {"provider": ...}, e.g. {"gpt-*": {"provider": "openai"}}'
        )
    return raw


def _check_provider(value: Any, where: str) -> Provider:
    if value not in PROVIDERS:
        raise ModelConfigurationError(f"{where}: provider must be one of {list(PROVIDERS)}, not {value!r}")
    return value  # type: ignore[no-any-return]


def resolve(
    name: str,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ProviderConfig:
    """Decide provider, API model name, base URL and key for `name`; raise with a fix when impossible."""
    env = os.environ if env is None else env
    if not isinstance(name, str) or not name:
        raise ModelConfigurationError("Model(name): give a model name, e.g. Model('gpt-4o-mini')")
    model_name = name
    key_env: str | None = None
    chosen: Provider | None = _check_provider(provider, "Model(provider=)") if provider else None
    if chosen is None:
        for pattern, entry in _load_map(env).items():
            if pattern == name or fnmatch.fnmatchcase(name, pattern):
                chosen = _check_provider(entry.get("provider"), f"model map entry {pattern!r}")
                model_name = str(entry.get("model") or name)
                base_url = base_url or entry.get("base_url")
                key_env = entry.get("api_key_env")
                break
    if chosen is None and env.get("AUTONOMY_MODEL_PROVIDER"):
        chosen = _check_provider(env["AUTONOMY_MODEL_PROVIDER"], "AUTONOMY_MODEL_PROVIDER")
    has_openai = bool(env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY"))
    has_anthropic = bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_BASE_URL"))
    if chosen is None and base_url:
        chosen = "openai"
    if chosen is None:
        if name.startswith("claude") and has_anthropic:
            chosen = "anthropic"
        elif has_openai:
            chosen = "openai"
        elif has_anthropic:
            chosen = "anthropic"
        else:
            raise ModelConfigurationError(f"no model provider is configured for model {name!r}: {HOW_TO_CONFIGURE}")

    prefix = "OPENAI" if chosen == "openai" else "ANTHROPIC"
    base_url = base_url or env.get(f"{prefix}_BASE_URL") or None
    api_key = api_key or (env.get(key_env) if key_env else None) or env.get(f"{prefix}_API_KEY") or None
    if chosen == "openai" and api_key is None:
        if base_url is None:
            raise ModelConfigurationError(
                f"model {name!r} goes to an OpenAI-compatible endpoint but neither OPENAI_BASE_URL nor "
                f"OPENAI_API_KEY is set: {HOW_TO_CONFIGURE}"
            )
        api_key = "unused"  # local servers (Ollama, vLLM) take any key, but the SDK insists on one
    if chosen == "anthropic":
        if api_key is None:
            raise ModelConfigurationError(
                f"model {name!r} goes to Anthropic but ANTHROPIC_API_KEY is not set: {HOW_TO_CONFIGURE}"
            )
        model_name = ANTHROPIC_ALIASES.get(model_name, model_name)
    return ProviderConfig(provider=chosen, model=model_name, base_url=base_url, api_key=api_key)
