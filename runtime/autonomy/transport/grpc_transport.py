"""The gRPC transport: a server that accepts peers, a dialer that reaches them, one link per peer.

Handshake: the dialer sends a Hello (node, zone, cluster, credentials); the acceptor answers with its
own Hello, `accepted` true or false with a reason. Only peers of the same cluster and zone, presenting
the zone's credentials when one is configured, are accepted. Mutual TLS with per-zone identities fits
in the same place (channel credentials plus a check of the peer certificate) without changing the API.

One link per pair of nodes. If both nodes dial each other at the same moment, the acceptor whose name
sorts first refuses the other's dial ("dial-race") and that dialer waits for the inbound link instead,
so both ends settle on the same stream before any message flows on it. A late dial from the same
process instance we already have a link with is refused as a "duplicate" (the dialer uses the link it
has, or dials again with `replace` if it has none). A dial from a new instance of the peer (it
restarted) replaces the old link: requests pending on the old link fail at once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import grpc.aio

from autonomy.errors import PeerGone, PeerRejected
from autonomy.names import random_hex
from autonomy.transport.link import Outgoing, PeerLink
from autonomy.transport.protos import transport_pb2 as pb

logger = logging.getLogger("autonomy.transport")

PROTOCOL_VERSION = 1
METHOD = "/autonomy.transport.v1.Transport/Connect"
DIAL_RACE = "dial-race"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Identity:
    """Who this node is, as told to peers in the handshake."""

    node: str
    zone: str
    cluster: str
    pod: str = ""
    credentials: bytes = b""


@dataclass(frozen=True)
class TransportSettings:
    host: str = "0.0.0.0"
    port: int = 50051
    #: Largest gRPC frame; a batch is cut into several frames below this.
    max_frame_bytes: int = 16 * 1024 * 1024
    #: Queued envelopes per link above which senders wait for the writer.
    high_water: int = 50_000
    handshake_timeout: float = 5.0
    backoff_initial: float = 0.05
    backoff_max: float = 2.0
    keepalive_ms: int = 10_000
    keepalive_timeout_ms: int = 5_000

    def grpc_options(self) -> list[tuple[str, int]]:
        limit = self.max_frame_bytes + 1024 * 1024
        return [
            ("grpc.max_send_message_length", limit),
            ("grpc.max_receive_message_length", limit),
            ("grpc.keepalive_time_ms", self.keepalive_ms),
            ("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.http2.min_ping_interval_without_data_ms", 1_000),
            ("grpc.so_reuseport", 0),
        ]


@dataclass
class _Backoff:
    delay: float = 0.0
    not_before: float = 0.0
    last_error: str = ""


@dataclass
class TransportStats:
    links_opened: int = 0
    links_rejected: int = 0
    streams_broken: int = 0
    extra: dict[str, int] = field(default_factory=dict)


Resolver = Callable[[str], Awaitable["tuple[str, int] | None"]]


class GrpcTransport:
    """Links to peers over gRPC. `on_envelopes(peer, envelopes)` and `on_peer_down(peer, reason)` are
    called from the event loop; `resolve(peer)` gives the host and port to dial."""

    def __init__(self, identity: Identity, settings: TransportSettings,
                 on_envelopes: Callable[[str, Sequence[pb.Envelope]], None],
                 on_peer_down: Callable[[str, str], None], resolve: Resolver) -> None:
        self.identity = identity
        self.settings = settings
        self._on_envelopes = on_envelopes
        self._on_peer_down = on_peer_down
        self._resolve = resolve
        self._links: dict[str, PeerLink] = {}
        self._dialing: dict[str, asyncio.Future[PeerLink]] = {}
        self._backoff: dict[str, _Backoff] = {}
        self._link_tasks: set[asyncio.Task[None]] = set()
        self._server: grpc.aio.Server | None = None
        self._stopping = False
        self.port = 0
        self.instance = random_hex(8)
        self.stats = TransportStats()

    # -- server -------------------------------------------------------------------------------------

    async def start(self) -> int:
        server = grpc.aio.server(options=self.settings.grpc_options())
        handler = grpc.stream_stream_rpc_method_handler(
            self._accept, request_deserializer=pb.Frame.FromString,
            response_serializer=pb.Frame.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("autonomy.transport.v1.Transport", {"Connect": handler}),)
        )
        address = f"{self.settings.host}:{self.settings.port}"
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError as error:
            raise OSError(f"cannot listen for peers on {address}: {error} "
                          "(set AUTONOMY_TRANSPORT_PORT to a free port, or 0 for any)") from error
        await server.start()
        self._server = server
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        self._stopping = True
        for link in list(self._links.values()):
            link.close("node stopping")
        for future in self._dialing.values():
            future.cancel()
        if self._link_tasks:
            await asyncio.wait(set(self._link_tasks), timeout=grace)
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    def _check_hello(self, hello: pb.Hello) -> str | None:
        me = self.identity
        if hello.version != PROTOCOL_VERSION:
            return f"protocol version {hello.version} is not {PROTOCOL_VERSION}"
        if not hello.node:
            return "hello without a node name"
        if hello.node == me.node:
            return f"node name {hello.node!r} is this node's own name"
        if hello.cluster != me.cluster or hello.zone != me.zone:
            return (f"node {hello.node!r} is in zone {hello.cluster}/{hello.zone}, "
                    f"this node accepts zone {me.cluster}/{me.zone} only")
        if me.credentials and not hmac.compare_digest(hello.credentials, me.credentials):
            return f"node {hello.node!r} presented wrong zone credentials"
        return None

    def _hello(self, accepted: bool = True, reason: str = "", replace: bool = False) -> pb.Frame:
        me = self.identity
        return pb.Frame(hello=pb.Hello(version=PROTOCOL_VERSION, node=me.node, zone=me.zone, cluster=me.cluster,
                                       pod=me.pod, credentials=me.credentials, accepted=accepted, reason=reason,
                                       instance=self.instance, replace=replace))

    async def _accept(self, _requests: object, context: grpc.aio.ServicerContext) -> None:
        peer_address = context.peer()
        try:
            first = await asyncio.wait_for(context.read(), self.settings.handshake_timeout)
        except Exception as error:
            problem = f"no valid hello ({error or 'timeout'})"
        else:
            problem = "" if first is not grpc.aio.EOF and first.HasField("hello") else "first frame is not a hello"
        if problem:
            # Garbage or silence: drop this stream, tell the caller why, and carry on serving the zone.
            self.stats.links_rejected += 1
            logger.warning("closing stream from %s: %s", peer_address, problem)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        hello = first.hello
        reason = self._check_hello(hello)
        if reason is None and self._stopping:
            reason = "node stopping"
        existing = self._links.get(hello.node)
        if reason is None and existing is not None and existing.peer_instance == hello.instance \
                and not hello.replace:
            reason = DUPLICATE  # a dial that crossed the link we already share; the dialer will use that
        if reason is None and hello.node in self._dialing and self.identity.node < hello.node:
            reason = DIAL_RACE  # our own dial to that peer wins; it will answer it
        if reason is not None:
            if reason not in (DIAL_RACE, DUPLICATE):
                self.stats.links_rejected += 1
                logger.warning("refused peer %r from %s: %s", hello.node, peer_address, reason)
            await context.write(self._hello(False, reason))
            return
        link = self._new_link(hello.node, dialer=hello.node, read=context.read, write=context.write)
        link.peer_instance = hello.instance
        self._adopt(link)
        await context.write(self._hello())
        await self._run_link(link)

    # -- dialing ------------------------------------------------------------------------------------

    async def link(self, peer: str) -> PeerLink:
        """The link to `peer`, dialing it if there is none; raises PeerGone if it cannot be reached."""
        link = self._links.get(peer)
        if link is not None:
            return link
        if self._stopping:
            raise PeerGone(f"cannot reach node {peer!r}: this node is stopping")
        pending = self._dialing.get(peer)
        if pending is None:
            backoff = self._backoff.get(peer)
            now = time.monotonic()
            if backoff is not None and now < backoff.not_before:
                raise PeerGone(f"node {peer!r} is unreachable ({backoff.last_error}); "
                               f"next attempt in {backoff.not_before - now:.2f} s")
            pending = asyncio.get_running_loop().create_future()
            self._dialing[peer] = pending
            asyncio.get_running_loop().create_task(self._dial_into(peer, pending))
        return await asyncio.shield(pending)

    async def _dial_into(self, peer: str, result: asyncio.Future[PeerLink]) -> None:
        try:
            link = await self._dial(peer)
        except BaseException as error:
            backoff = self._backoff.setdefault(peer, _Backoff())
            backoff.delay = min(self.settings.backoff_max, max(self.settings.backoff_initial, backoff.delay * 2))
            backoff.not_before = time.monotonic() + backoff.delay
            backoff.last_error = str(error)
            if not result.done():
                result.set_exception(error if isinstance(error, Exception) else PeerGone(str(error)))
                result.exception()  # the caller may be gone; mark it retrieved
        else:
            self._backoff.pop(peer, None)
            if not result.done():
                result.set_result(link)
        finally:
            if self._dialing.get(peer) is result:
                del self._dialing[peer]

    async def _dial(self, peer: str, replace: bool = False) -> PeerLink:
        target = await self._resolve(peer)
        if target is None:
            raise PeerGone(f"node {peer!r} is not in the zone (not found by discovery)")
        host, port = target
        channel = grpc.aio.insecure_channel(f"{host}:{port}", options=self.settings.grpc_options())
        try:
            call = channel.stream_stream(METHOD, request_serializer=pb.Frame.SerializeToString,
                                         response_deserializer=pb.Frame.FromString)()
            async with asyncio.timeout(self.settings.handshake_timeout):
                await call.write(self._hello(replace=replace))
                answer = await call.read()
        except (grpc.aio.AioRpcError, TimeoutError, OSError) as error:
            await channel.close()
            detail = error.details() if isinstance(error, grpc.aio.AioRpcError) else (str(error) or "timeout")
            raise PeerGone(f"cannot reach node {peer!r} at {host}:{port}: {detail}") from None
        except BaseException:
            await channel.close()
            raise
        if answer is grpc.aio.EOF or not answer.HasField("hello"):
            await channel.close()
            raise PeerGone(f"node {peer!r} at {host}:{port} closed the stream during the handshake")
        hello = answer.hello
        if not hello.accepted:
            await channel.close()
            if hello.reason in (DIAL_RACE, DUPLICATE):
                link = await self._wait_for_inbound(peer, self.settings.handshake_timeout
                                                    if hello.reason == DIAL_RACE else 0.2)
                if link is not None:
                    return link
                if hello.reason == DUPLICATE and not replace:  # the peer holds a link we lost: replace it
                    return await self._dial(peer, replace=True)
                raise PeerGone(f"node {peer!r} neither accepted our dial nor dialed back")
            raise PeerRejected(f"node {peer!r} refused this node: {hello.reason}")
        if hello.node != peer:
            await channel.close()
            raise PeerGone(f"{host}:{port} is now node {hello.node!r}, not {peer!r}")
        link = self._new_link(peer, dialer=self.identity.node, read=call.read, write=call.write,
                              closer=channel.close)
        link.peer_instance = hello.instance
        self._adopt(link)
        task = asyncio.get_running_loop().create_task(self._run_link(link))
        self._link_tasks.add(task)
        task.add_done_callback(self._link_tasks.discard)
        return link

    async def _wait_for_inbound(self, peer: str, timeout: float) -> PeerLink | None:
        deadline = time.monotonic() + timeout
        while True:
            link = self._links.get(peer)
            if link is not None or time.monotonic() >= deadline:
                return link
            await asyncio.sleep(0.005)

    # -- links --------------------------------------------------------------------------------------

    def _new_link(self, peer: str, dialer: str, read: Callable[[], Awaitable[object]],
                  write: Callable[[pb.Frame], Awaitable[None]],
                  closer: Callable[[], object] | None = None) -> PeerLink:
        return PeerLink(peer, dialer, read, write, self._on_envelopes, self.settings.max_frame_bytes,
                        self.settings.high_water, closer)

    def _adopt(self, link: PeerLink) -> None:
        old = self._links.get(link.peer)
        self._links[link.peer] = link
        self.stats.links_opened += 1
        if old is not None:
            # The peer dialed again while we still had a link: it restarted or lost its side.
            old.close("replaced by a new connection")
            self._on_peer_down(link.peer, "the peer reconnected; its old connection was dropped")

    async def _run_link(self, link: PeerLink) -> None:
        try:
            await link.run()
        finally:
            if self._links.get(link.peer) is link:
                del self._links[link.peer]
                lost = link.drop_queue()
                if not self._stopping:
                    self.stats.streams_broken += 1
                    logger.info("link to %s closed: %s", link.peer, link.close_reason)
                self._on_peer_down(link.peer, link.close_reason)
                del lost

    # -- sending ------------------------------------------------------------------------------------

    def link_if_open(self, peer: str) -> PeerLink | None:
        return self._links.get(peer)

    async def send(self, peer: str, item: Outgoing) -> None:
        link = self._links.get(peer) or await self.link(peer)
        if link.congested:
            await link.wait_writable()
            if link.closed.is_set():
                raise PeerGone(f"connection to node {peer!r} closed: {link.close_reason}")
        link.send(item)

    def peers(self) -> list[str]:
        return list(self._links)
