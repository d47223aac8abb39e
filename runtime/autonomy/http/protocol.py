"""uvicorn's httptools protocol with a deadline and a size limit on each request head (no slowloris).

uvicorn times out idle keep-alive connections, but a connection that has sent part of a request head is
held for ever, and httptools puts no bound on a head's size. Here every wait for a head (a new connection,
or a kept-alive one once its last response is complete) has `head_timeout` seconds to bring the whole
request line and headers, and at most `max_head_bytes` of them (431 beyond); then the connection is closed.
A 431 is followed by a short lingering close (the rest of the input is read and dropped for a second), so
that the client reads the answer instead of a reset. A request whose head has arrived is the app's business
(its body is read with a limit and a deadline of its own).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_SECONDS = 1.0
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
              b"content-length: 33\r\nconnection: close\r\n\r\nrequest line and headers too long")


class GuardedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
    head_timeout: float = 5.0
    max_head_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._dropping = False

    @classmethod
    def with_limits(cls, head_timeout: float, max_head_bytes: int) -> type[GuardedHttpToolsProtocol]:
        return type(cls.__name__, (cls,), {"head_timeout": head_timeout, "max_head_bytes": max_head_bytes})

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._dropping:
            return
        in_body = self.cycle is not None and self.cycle.more_body  # the rest of a body answered early
        if self._head_timer is not None and not in_body:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_timer is not None and self._head_bytes > self.max_head_bytes:
            self._stop_head_timer()
            if not self.transport.is_closing():
                self._dropping = True
                self.transport.write(_TOO_LARGE)
                if self.transport.can_write_eof():
                    self.transport.write_eof()
                self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no request parsed and still being answered
        if idle and not self.transport.is_closing():
            self._await_head()
