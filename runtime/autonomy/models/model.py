"""`Model`: one API over OpenAI-compatible endpoints and Anthropic, with timeouts, retries and throttling.

The provider is chosen by configuration (see `autonomy.models.config`), so the same agent code runs
against OpenAI, a local vLLM or Ollama, a LiteLLM proxy, OpenRouter or Anthropic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any, TypeVar

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from autonomy.messages import as_chat_message
from autonomy.models.config import ProviderConfig, resolve
from autonomy.models.errors import ModelError, ModelRequestError
from autonomy.models.retry import RetryPolicy, is_retryable, is_stale_connection, retry_after_of, status_of
from autonomy.models.shapes import chat_completion, chat_completion_chunk, chunk_of, completion_of
from autonomy.models.throttle import Throttle, ThrottleSettings, shared_throttle
from autonomy.models.types import ChatMessage, ModelDelta, ModelResponse, ResponseAccumulator, ToolSpec

T = TypeVar("T")

logger = logging.getLogger("autonomy.model")

DEFAULT_MODEL = "claude-sonnet-4-v1"
#: Resends, per call, of a request whose pooled connection the server had closed (not counted as retries).
MAX_RECONNECTS = 3


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
        # Retries happen with or without the throttle; the throttle adds an adaptive rate and a bounded queue.
        # As upstream, `throttle_max_retry_attempts` counts retries after the first attempt.
        self.retry = RetryPolicy(
            max_attempts=1 + max(0, throttle_max_retry_attempts),
            initial_delay=throttle_initial_seconds_between_retry_attempts if throttle else 1.0,
            max_delay=throttle_max_seconds_between_retry_attempts,
            jitter=not throttle,  # upstream's throttled schedule is exact: 5, 10, 20, 40, 60 s
        )
        self._throttle_settings = (
            ThrottleSettings(
                requests_per_minute=float(throttle_requests_per_minute),
                max_requests_in_progress=int(throttle_max_requests_in_progress),
                max_requests_waiting_in_queue=int(throttle_max_requests_waiting_in_queue),
                max_seconds_to_wait_in_queue=float(throttle_max_seconds_to_wait_in_queue),
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
        if self._throttle_settings is None:
            return None
        if self._throttle is None:
            key = (self.provider, self.config.base_url, self.config.model)
            self._throttle = shared_throttle(key, self._throttle_settings)
        return self._throttle

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` (the opening of a request), retrying what is worth retrying; feed the throttle."""
        throttle = self._get_throttle()
        attempt = 0
        reconnects = 0
        while True:
            attempt += 1
            try:
                result = await call()
                if throttle is not None:
                    throttle.on_success()
                return result
            except Exception as error:
                if is_stale_connection(error) and reconnects < MAX_RECONNECTS:
                    # The server closed the kept-alive connection as the pool handed it out: not the
                    # model's failure, and no reason to wait. Go again on a new connection.
                    reconnects += 1
                    attempt -= 1
                    logger.debug("model %s: server closed a pooled connection, resending", self.original_name)
                    continue
                status = status_of(error)
                if status == 429 and throttle is not None:
                    throttle.on_rate_limited()
                if not is_retryable(error) or attempt >= self.retry.max_attempts:
                    raise _wrap(error, self) from error
                delay = self.retry.delay(attempt, retry_after_of(error))
                logger.warning("model %s: %s, retry %d in %.1fs", self.original_name, _describe(error), attempt, delay)
                await asyncio.sleep(delay)

    def _slot(self) -> Any:
        throttle = self._get_throttle()
        return throttle.slot() if throttle is not None else contextlib.nullcontext()

    async def stream_chat(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None = None, **kwargs: Any
    ) -> AsyncIterator[ModelDelta]:
        """Stream an answer as deltas (what agents use). Bounded by `stream_timeout` seconds in all
        (retries included) and `max_stream_chunks` chunks."""
        options = {**self.options, **kwargs}
        module = _provider_module(self.provider)
        async for delta in self._stream(
            lambda: module.open_stream(self._client(), self.config.model, messages, tools, options)
        ):
            yield delta

    async def _stream(self, opener: Callable[[], Awaitable[AsyncIterator[T]]]) -> AsyncIterator[T]:
        deadline = asyncio.get_running_loop().time() + self.stream_timeout
        async with self._slot():
            try:
                async with asyncio.timeout_at(deadline):
                    stream = await self._with_retries(opener)
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
                            item = await iterator.__anext__()
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
                    yield item
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

    def complete_chat(
        self,
        messages: list[Any],
        stream: bool = False,
        is_thinking: bool = False,
        agent_name: str | None = None,
        scope: str | None = None,
        conversation: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Upstream's entry point, for apps that call a model themselves.

        `await model.complete_chat(messages)` is an OpenAI `ChatCompletion` (`.choices[0].message.content`,
        `.choices[0].message.tool_calls`, `.usage`); `model.complete_chat(messages, stream=True)` is iterated
        at once (`async for chunk in ...`, not awaited first) and yields `ChatCompletionChunk`s
        (`chunk.choices[0].delta.content`). `messages` are OpenAI-style dicts or upstream's message classes
        (`SystemMessage("...")`, `UserMessage(...)`); `tools=[...]` and other keywords go to the endpoint.
        `is_thinking`, `agent_name`, `scope` and `conversation` are accepted as upstream's are.
        """
        chat = [as_chat_message(m) for m in messages]
        tools = kwargs.pop("tools", None) or None
        if stream:
            return ChunkStream(self._chat_chunks(chat, tools, kwargs))
        return self._chat_completion(chat, tools, kwargs)

    async def _chat_completion(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None, kwargs: dict[str, Any]
    ) -> ChatCompletion:
        options = {**self.options, **kwargs}
        if self.provider != "openai":  # Anthropic answers in its own shape: fold its stream into OpenAI's
            response = await self.complete(messages, tools, **kwargs)
            return completion_of(response, self.config.model)
        module = _provider_module("openai")
        async with self._slot():
            raw = await self._with_retries(
                lambda: module.create_completion(self._client(), self.config.model, messages, tools, options)
            )
        try:
            return chat_completion(raw)
        except ValueError as error:
            raise ModelRequestError(f"model {self.original_name!r}: not a chat completion: {error}") from error

    async def _chat_chunks(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None, kwargs: dict[str, Any]
    ) -> AsyncIterator[ChatCompletionChunk]:
        if self.provider != "openai":
            stream_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
            async for delta in self.stream_chat(messages, tools, **kwargs):
                yield chunk_of(delta, self.config.model, stream_id)
            return
        options = {**self.options, **kwargs}
        module = _provider_module("openai")
        async for raw in self._stream(
            lambda: module.open_chunks(self._client(), self.config.model, messages, tools, options)
        ):
            yield chat_completion_chunk(raw)

    def _openai_only(self, what: str) -> ModuleType:
        if self.provider != "openai":
            raise ModelError(
                f"model {self.original_name!r}: {what} needs an OpenAI-compatible endpoint, and this model goes to "
                f"{self.provider}; use a model the endpoint of OPENAI_BASE_URL serves, or map it there in "
                "AUTONOMY_MODELS"
            )
        return _provider_module("openai")

    async def embeddings(self, text: list[str], **kwargs: Any) -> list[list[float]]:
        """One vector per text, from the endpoint's `/embeddings`."""
        if isinstance(text, str):
            raise ModelError("Model.embeddings(text): give a list of strings, e.g. embeddings([\"some text\"])")
        module = self._openai_only("embeddings")
        vectors: list[list[float]] = await self._with_retries(
            lambda: module.embeddings(self._client(), self.config.model, list(text), kwargs)
        )
        return vectors

    async def speech_to_text(self, audio_file: Any, language: str | None = None, **kwargs: Any) -> Any:
        """Transcribe audio (a file opened in binary mode, bytes, or a `(filename, bytes)` pair) with the
        endpoint's `/audio/transcriptions`. The text, or with `response_format` "json", "verbose_json" or
        "diarized_json" the whole transcription object (segments, speakers), as upstream.

        `model=` picks the transcription model (this Model's name by default); `timeout=` is in seconds
        (600 by default: long audio takes minutes)."""
        module = self._openai_only("speech_to_text")
        model = str(kwargs.pop("model", None) or self.config.model)
        options = dict(kwargs)
        options["timeout"] = float(options.pop("timeout", 600))
        if language:
            options["language"] = language
        response_format = options.get("response_format")
        result = await self._with_retries(
            lambda: module.speech_to_text(self._client(), model, _rewound(audio_file), options)
        )
        if response_format in ("json", "verbose_json", "diarized_json") or isinstance(result, str):
            return result
        return result.text

    async def text_to_speech(
        self, text: str, voice: str = "alloy", response_format: str = "mp3", **kwargs: Any
    ) -> bytes:
        """Speak `text` with the endpoint's `/audio/speech`: the audio bytes in `response_format`.
        `model=` picks the speech model (this Model's name by default)."""
        module = self._openai_only("text_to_speech")
        model = str(kwargs.pop("model", None) or self.config.model)
        options = {"voice": voice, "response_format": response_format, **kwargs}
        audio: bytes = await self._with_retries(lambda: module.text_to_speech(self._client(), model, text, options))
        return audio


class ChunkStream:
    """The chunks of `complete_chat(..., stream=True)`: iterated directly, as upstream's async generator
    is; awaiting it first (an older habit) gives the same stream."""

    def __init__(self, chunks: AsyncIterator[ChatCompletionChunk]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._chunks

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._chunks.__anext__()

    def __await__(self) -> Any:
        async def itself() -> ChunkStream:
            return self

        return itself().__await__()

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


def _rewound(audio_file: Any) -> Any:
    """A file being retried is read again from its start."""
    seek = getattr(audio_file, "seek", None)
    if seek is not None:
        with contextlib.suppress(OSError, ValueError):
            seek(0)
    return audio_file


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
    if is_stale_connection(error):
        return ModelRequestError(f"model {model.original_name!r}: {where} closed the connection without an answer")
    if type(error).__name__ in {"APIConnectionError", "APITimeoutError", "EndpointConnectionError"}:
        return ModelRequestError(f"model {model.original_name!r}: cannot reach {where}: {error}")
    return ModelRequestError(f"model {model.original_name!r} at {where}: {_describe(error)}", status)
