"""One peer link: a gRPC stream both ways, a writer that batches, a reader that hands frames on.

The writer sends whatever is queued as one frame, with no timer: under load frames grow and the
per-frame cost of gRPC is spread over many messages; when idle, a lone message leaves at once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from autonomy.identity import WorkloadId
from autonomy.transport.protos import transport_pb2 as pb

logger = logging.getLogger("autonomy.transport")

#: Sentinel the gRPC aio API returns from read() at the end of a stream.
try:
    from grpc.aio import EOF as GRPC_EOF
except ImportError:  # pragma: no cover - older grpcio
    GRPC_EOF = object()


class Kind(enum.IntEnum):
    MESSAGE = pb.Envelope.MESSAGE
    REPLY = pb.Envelope.REPLY
    ERROR = pb.Envelope.ERROR


# (kind, address, body, reply_to, request_id, deadline_ms, error_code, blob)
Outgoing = tuple[int, str, str, str, int, int, str, bytes]

ReadFn = Callable[[], Awaitable[Any]]
WriteFn = Callable[[pb.Frame], Awaitable[None]]
#: (peer node name, envelopes, the peer's verified identity or None on a plaintext benchmark link)
EnvelopeHandler = Callable[[str, Sequence[pb.Envelope], WorkloadId | None], None]


class PeerLink:
    """The live connection to one peer. `send` never blocks; `congested` tells callers to slow down."""

    def __init__(self, peer: str, dialer: str, read: ReadFn, write: WriteFn, on_envelopes: EnvelopeHandler,
                 max_frame_bytes: int, high_water: int, closer: Callable[[], Any] | None = None,
                 identity: WorkloadId | None = None) -> None:
        self.peer = peer
        self.dialer = dialer  # which node opened the stream
        #: Who the peer is, as its certificate proved in the TLS handshake (the acceptor read it from the
        #: peer's certificate; the dialer expected it of the server's).
        self.identity = identity
        self.peer_instance = ""  # the peer process's instance id, from its hello
        self._read = read
        self._write = write
        self._on_envelopes = on_envelopes
        self._max_frame_bytes = max_frame_bytes
        self._high_water = high_water
        self._closer = closer
        self._queue: list[Outgoing] = []
        self._wakeup = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.closed = asyncio.Event()
        self.close_reason = ""
        self._tasks: tuple[asyncio.Task[None], ...] = ()
        self.frames_sent = 0
        self.envelopes_sent = 0

    # -- sending ------------------------------------------------------------------------------------

    def send(self, item: Outgoing) -> None:
        self._queue.append(item)
        if len(self._queue) == 1:
            self._wakeup.set()
        if len(self._queue) >= self._high_water:
            self._writable.clear()

    @property
    def congested(self) -> bool:
        return len(self._queue) >= self._high_water

    async def wait_writable(self) -> None:
        while self.congested and not self.closed.is_set():
            await asyncio.wait(
                [asyncio.ensure_future(self._writable.wait()), asyncio.ensure_future(self.closed.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )

    async def _writer(self) -> None:
        limit = self._max_frame_bytes
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            items, self._queue = self._queue, []
            self._writable.set()
            frame = pb.Frame()
            add = frame.envelopes.add
            size = 0
            for kind, address, body, reply_to, request_id, deadline_ms, error_code, blob in items:
                if kind == 0 and not reply_to and not blob:
                    add(address=address, body=body)
                else:
                    add(kind=kind, address=address, body=body, reply_to=reply_to, request_id=request_id,  # type: ignore[arg-type]
                        deadline_ms=deadline_ms, error_code=error_code, blob=blob)
                size += len(body) + len(blob) + len(address) + 16
                if size >= limit:  # keep frames under the gRPC message limit
                    await self._write(frame)
                    self.frames_sent += 1
                    frame = pb.Frame()
                    add = frame.envelopes.add
                    size = 0
            if frame.envelopes:
                await self._write(frame)
                self.frames_sent += 1
            self.envelopes_sent += len(items)

    # -- receiving ----------------------------------------------------------------------------------

    async def _reader(self) -> None:
        while True:
            frame = await self._read()
            if frame is GRPC_EOF or frame is None:
                self.close_reason = "stream ended"
                return
            if frame.envelopes:
                self._on_envelopes(self.peer, frame.envelopes, self.identity)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Pump both directions until either ends; then the link is closed for good."""
        reader = asyncio.create_task(self._reader(), name=f"link-reader-{self.peer}")
        writer = asyncio.create_task(self._writer(), name=f"link-writer-{self.peer}")
        self._tasks = (reader, writer)
        try:
            done, _ = await asyncio.wait([reader, writer], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.cancelled():
                    continue
                error = task.exception()
                if error is not None and not self.close_reason:
                    self.close_reason = f"{type(error).__name__}: {error}".strip()
        finally:
            reader.cancel()
            writer.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
            if not self.close_reason:
                self.close_reason = "closed"
            self.closed.set()
            self._writable.set()
            if self._closer is not None:
                try:
                    result = self._closer()
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # closing must never raise
                    logger.debug("error closing link to %s", self.peer, exc_info=True)

    def close(self, reason: str) -> None:
        """End the link from this side (replaced by a newer one, or the node is stopping)."""
        if not self.close_reason:
            self.close_reason = reason
        for task in self._tasks:
            task.cancel()

    def drop_queue(self) -> list[Outgoing]:
        items, self._queue = self._queue, []
        return items
