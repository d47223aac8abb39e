"""`Model`: one API over OpenAI-compatible endpoints and Anthropic, with timeouts, retries and throttling.

The provider is chosen by configuration (see `autonomy.models.config`), so the same agent code runs
against OpenAI, a local vLLM or Ollama, a LiteLLM proxy, OpenRouter or Anthropic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

from autonomy.messages import as_chat_message
from autonomy.models.config import ProviderConfig, resolve
from autonomy.models.errors import ModelError, ModelRequestError
from autonomy.models.retry import RetryPolicy, is_retryable, retry_after_of, status_of
from autonomy.models.throttle import Throttle
from autonomy.models.types import ChatMessage, ModelDelta, ModelResponse, ResponseAccumulator, ToolSpec

logger = logging.getLogger("autonomy.model")

DEFAULT_MODEL = "claude-sonnet-4-v1"


class Model:
    """A chat model. Extra keyword arguments (e.g. `max_tokens=256`, `temperature=0`) go to the provider."""

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        max_input_tokens: int | None = None,
        request_timeout: float = 120,
        connect_timeout: float = 10,
        stream_timeout: float = 300,
        throttle: bool = False,
        throttle_requests_per_minute: float = 60,
        throttle_max_requests_in_progress: int = 10,
        throttle_max_requests_waiting_in_queue: int = 1000,
        throttle_max_seconds_to_wait_in_queue: float = 300,
        throttle_max_retry_attempts: int = 3,
        throttle_initial_seconds_between_retry_attempts: float = 5,
        throttle_max_seconds_between_retry_attempts: float = 60,
        provider: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_stream_chunks: int = 10_000,
        **kwargs: Any,
    ) -> None:
        self.original_name = name
        self.config: ProviderConfig = resolve(name, provider=provider, base_url=base_url, api_key=api_key)
        self.max_input_tokens = max_input_tokens
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.stream_timeout = stream_timeout
        self.max_stream_chunks = max_stream_chunks
        self.options = kwargs
        # Retries happen with or without the throttle; the throttle only adds pacing and a bounded queue.
        self.retry = RetryPolicy(
            max_attempts=max(1, throttle_max_retry_attempts),
            initial_delay=throttle_initial_seconds_between_retry_attempts if throttle else 1.0,
            max_delay=throttle_max_seconds_between_retry_attempts,
        )
        self._throttle_args = (
            (
                throttle_requests_per_minute,
                throttle_max_requests_in_progress,
                throttle_max_requests_waiting_in_queue,
                throttle_max_seconds_to_wait_in_queue,
            )
            if throttle
            else None
        )
        self._throttle: Throttle | None = None

    # The SDK client and throttle hold sockets and locks: rebuild them after pickling (remote subagents).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_throttle"] = None
        return state

    @property
    def name(self) -> str:
        return self.original_name

    @property
    def resolved_name(self) -> str:
        return self.config.model

    @property
    def provider(self) -> str:
        return self.config.provider

    def __repr__(self) -> str:
        return f"Model({self.original_name!r}, provider={self.provider!r})"

    def support_tools(self) -> bool:
        return True

    def count_tokens(self, messages: list[ChatMessage] | str) -> int:
        """A provider-independent estimate (about four characters a token), good enough for trimming."""
        return estimate_tokens(messages)

    def _client(self) -> Any:
        module = _provider_module(self.provider)
        return module.client_for(self.config.base_url, self.config.api_key, self.request_timeout, self.connect_timeout)

    def _get_throttle(self) -> Throttle | None:
        if self._throttle_args is not None and self._throttle is None:
            self._throttle = Throttle(*self._throttle_args)
        return self._throttle

    async def _open(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None, options: dict[str, Any]
    ) -> AsyncIterator[ModelDelta]:
        module = _provider_module(self.provider)
        throttle = self._get_throttle()
        attempt = 0
        while True:
            attempt += 1
            try:
                stream: AsyncIterator[ModelDelta] = await module.open_stream(
                    self._client(), self.config.model, messages, tools, options
                )
                if throttle is not None:
                    throttle.on_success()
                return stream
            except Exception as error:
                status = status_of(error)
                if status == 429 and throttle is not None:
                    throttle.on_rate_limited()
                if not is_retryable(error) or attempt >= self.retry.max_attempts:
                    raise _wrap(error, self) from error
                delay = self.retry.delay(attempt, retry_after_of(error))
                logger.warning("model %s: %s, retry %d in %.1fs", self.original_name, _describe(error), attempt, delay)
                await asyncio.sleep(delay)

    async def stream_chat(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None = None, **kwargs: Any
    ) -> AsyncIterator[ModelDelta]:
        """Stream an answer as deltas. Bounded by `stream_timeout` seconds in all (retries included) and
        `max_stream_chunks` chunks."""
        options = {**self.options, **kwargs}
        throttle = self._get_throttle()
        deadline = asyncio.get_running_loop().time() + self.stream_timeout
        async with throttle.slot() if throttle is not None else contextlib.nullcontext():
            try:
                async with asyncio.timeout_at(deadline):
                    stream = await self._open(messages, tools, options)
            except TimeoutError as error:
                raise self._stream_timed_out() from error
            iterator = stream.__aiter__()
            chunks = 0
            try:
                while True:
                    # A deadline per chunk, not one around the loop: this generator must not be cancelled
                    # while it is suspended at `yield`, in its caller's code.
                    try:
                        async with asyncio.timeout_at(deadline):
                            delta = await iterator.__anext__()
                    except StopAsyncIteration:
                        return
                    except TimeoutError as error:
                        raise self._stream_timed_out() from error
                    except ModelError:
                        raise
                    except Exception as error:
                        raise _wrap(error, self) from error
                    chunks += 1
                    if chunks > self.max_stream_chunks:
                        logger.warning("model %s: stream cut at %d chunks", self.original_name, self.max_stream_chunks)
                        return
                    yield delta
            finally:
                close = getattr(iterator, "aclose", None)
                if close is not None:
                    await close()

    def _stream_timed_out(self) -> ModelRequestError:
        return ModelRequestError(f"model {self.original_name!r}: stream exceeded {self.stream_timeout}s")

    async def complete(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None = None, **kwargs: Any
    ) -> ModelResponse:
        """The whole answer at once (streamed underneath, so the same timeouts apply)."""
        accumulator = ResponseAccumulator()
        async for delta in self.stream_chat(messages, tools, **kwargs):
            accumulator.add(delta)
        return accumulator.response()

    async def complete_chat(
        self,
        messages: list[Any],  # ChatMessage dicts, or upstream's message classes
        stream: bool = False,
        tools: list[ToolSpec] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Upstream's entry point: a `ModelResponse`, or with `stream=True` an async iterator of deltas.

        As upstream, `messages` may also hold its message classes (`SystemMessage("...")`, `UserMessage(...)`).
        """
        messages = [as_chat_message(m) for m in messages]
        if stream:
            return self.stream_chat(messages, tools, **kwargs)
        return await self.complete(messages, tools, **kwargs)

    async def embeddings(self, texts: list[str]) -> list[list[float]]:
        if self.provider != "openai":
            raise ModelError(f"model {self.original_name!r}: embeddings need an OpenAI-compatible endpoint")
        try:
            vectors: list[list[float]] = await _provider_module("openai").embeddings(
                self._client(), self.config.model, texts
            )
            return vectors
        except Exception as error:
            raise _wrap(error, self) from error


def _provider_module(provider: str) -> ModuleType:
    """The provider's module, and with it its SDK, imported on first use: a node that only talks to
    OpenAI-compatible endpoints never loads the Anthropic SDK (~60 MB of memory in a fresh node)."""
    if provider == "openai":
        from autonomy.models import openai_provider

        return openai_provider
    from autonomy.models import anthropic_provider

    return anthropic_provider


def estimate_tokens(messages: list[ChatMessage] | str | ChatMessage) -> int:
    if isinstance(messages, str):
        return max(1, len(messages) // 4)
    if isinstance(messages, dict):
        messages = [messages]
    total = 0
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else str(content or "")
        total += 4 + len(text) // 4
        for call in message.get("tool_calls") or []:
            total += len(str(call)) // 4
    return total


def _describe(error: BaseException) -> str:
    status = status_of(error)
    return f"HTTP {status}" if status is not None else f"{type(error).__name__}: {error}"


def _wrap(error: BaseException, model: Model) -> ModelError:
    if isinstance(error, ModelError):
        return error
    status = status_of(error)
    where = model.config.base_url or model.provider
    if status in (401, 403):
        variable = "OPENAI_API_KEY" if model.provider == "openai" else "ANTHROPIC_API_KEY"
        return ModelRequestError(
            f"model {model.original_name!r} at {where}: HTTP {status}, the key was refused: check {variable}",
            status,
        )
    if status == 404:
        return ModelRequestError(
            f"model {model.original_name!r} at {where}: HTTP 404, unknown model or wrong base URL "
            f"(resolved model name {model.config.model!r}); check the name and the *_BASE_URL",
            status,
        )
    if type(error).__name__ in {"APIConnectionError", "APITimeoutError"}:
        return ModelRequestError(f"model {model.original_name!r}: cannot reach {where}: {error}")
    return ModelRequestError(f"model {model.original_name!r} at {where}: {_describe(error)}", status)
