"""The gRPC transport: a server that accepts peers, a dialer that reaches them, one link per peer.

Every link is mutual TLS (transport/tls.py): the TLS handshake admits only holders of a certificate of
this zone's CA; the acceptor then requires the certificate to name this cluster, namespace and zone, and
the Hello to name the node the certificate names, so no peer can take another node's name or replace
its link. The Hello carries no credentials (the certificate is the credential). Anyone refused learns
nothing: a failed handshake is a closed socket, a refusal after it is PERMISSION_DENIED "refused"; the
reason goes to this node's log, one bounded line per refused peer.

Handshake: the dialer sends a Hello (node, pod, instance); the acceptor answers with its own Hello,
`accepted` true, or false with a reason (a dial race or a duplicate, between peers of the zone).

One link per pair of nodes. If both nodes dial each other at the same moment, the acceptor whose name
sorts first refuses the other's dial ("dial-race") and that dialer waits for the inbound link instead,
so both ends settle on the same stream before any message flows on it. A late dial from the same
process instance we already have a link with is refused as a "duplicate" (the dialer uses the link it
has, or dials again with `replace` if it has none). A dial from a new instance of the peer (it
restarted) replaces the old link: requests pending on the old link fail at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import grpc.aio

from autonomy.errors import PeerGone, PeerRejected
from autonomy.identity import WorkloadId
from autonomy.names import random_hex
from autonomy.transport.link import EnvelopeHandler, Outgoing, PeerLink
from autonomy.transport.protos import transport_pb2 as pb
from autonomy.transport.tls import LinkTls, PeerRefused, PlaintextForBenchmarks, clip

logger = logging.getLogger("autonomy.transport")

#: 2: mutual TLS; the Hello lost zone, cluster and credentials.
PROTOCOL_VERSION = 2
METHOD = "/autonomy.transport.v1.Transport/Connect"
DIAL_RACE = "dial-race"
DUPLICATE = "duplicate"
STOPPING = "node stopping"
#: All an outsider (or a refused peer) is ever told.
REFUSED = "refused"


@dataclass(frozen=True)
class Identity:
    """Who this node is: its zone identity (what its certificate names) and its seed pod."""

    workload: WorkloadId
    pod: str = ""

    @property
    def node(self) -> str:
        return self.workload.node


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

    def grpc_options(self) -> list[tuple[str, int | str]]:
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
    """Links to peers over gRPC. `on_envelopes(peer, envelopes, identity)` and `on_peer_down(peer, reason)`
    are called from the event loop; `resolve(peer)` gives the host and port to dial. `tls` holds the
    node's certificate (renewals go to `tls.update`); `PlaintextForBenchmarks()` exists for the TLS
    benchmark only and is reachable from no setting."""

    def __init__(self, identity: Identity, settings: TransportSettings, on_envelopes: EnvelopeHandler,
                 on_peer_down: Callable[[str, str], None], resolve: Resolver,
                 tls: LinkTls | PlaintextForBenchmarks) -> None:
        if not isinstance(tls, LinkTls | PlaintextForBenchmarks):
            raise TypeError("GrpcTransport needs tls=LinkTls(...): links are always mutual TLS")
        self.identity = identity
        self.settings = settings
        self.tls = tls
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
            if isinstance(self.tls, LinkTls):
                self.port = server.add_secure_port(address, self.tls.server_credentials())
            else:
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

    def _check_hello(self, hello: pb.Hello, origin: WorkloadId | None) -> str | None:
        """Why this Hello is refused (for this node's log only), or None."""
        if hello.version != PROTOCOL_VERSION:
            return f"protocol version {hello.version} is not {PROTOCOL_VERSION}"
        if not hello.node:
            return "hello without a node name"
        if origin is not None and hello.node != origin.node:
            return f"hello claims node {clip(hello.node)}, not the node its certificate names"
        if hello.node == self.identity.node:
            return "hello claims this node's own name"
        return None

    def _hello(self, accepted: bool = True, reason: str = "", replace: bool = False) -> pb.Frame:
        me = self.identity
        return pb.Frame(hello=pb.Hello(version=PROTOCOL_VERSION, node=me.node, pod=me.pod, accepted=accepted,
                                       reason=reason, instance=self.instance, replace=replace))

    async def _refuse(self, context: grpc.aio.ServicerContext, peer_address: str, why: str,
                      code: grpc.StatusCode = grpc.StatusCode.PERMISSION_DENIED, told: str = REFUSED) -> None:
        """One log line for this node's operator; the peer hears `told` and nothing else."""
        self.stats.links_rejected += 1
        logger.warning("refused a peer at %s: %s", peer_address, why)
        await context.abort(code, told)

    async def _accept(self, _requests: object, context: grpc.aio.ServicerContext) -> None:
        peer_address = clip(context.peer() or "unknown", 80)
        origin: WorkloadId | None = None
        if isinstance(self.tls, LinkTls):
            try:
                origin = self.tls.verify_peer(context.auth_context())
            except PeerRefused as refusal:
                await self._refuse(context, peer_address, str(refusal))
                return
        try:
            first = await asyncio.wait_for(context.read(), self.settings.handshake_timeout)
        except Exception as error:
            problem = f"no valid hello ({type(error).__name__})"
        else:
            problem = "" if first is not grpc.aio.EOF and first.HasField("hello") else "first frame is not a hello"
        if problem:
            # Garbage or silence from a peer of the zone: drop this stream and carry on serving the zone.
            await self._refuse(context, peer_address, problem, grpc.StatusCode.INVALID_ARGUMENT, "no valid hello")
            return
        hello = first.hello
        reason = self._check_hello(hello, origin)
        if reason is not None:
            await self._refuse(context, peer_address, reason)
            return
        answer = None
        existing = self._links.get(hello.node)
        if self._stopping:
            answer = STOPPING
        elif existing is not None and existing.peer_instance == hello.instance and not hello.replace:
            answer = DUPLICATE  # a dial that crossed the link we already share; the dialer will use that
        elif hello.node in self._dialing and self.identity.node < hello.node:
            answer = DIAL_RACE  # our own dial to that peer wins; it will answer it
        if answer is not None:  # told only to a peer whose certificate names it: a node of this zone
            await context.write(self._hello(False, answer))
            return
        link = self._new_link(hello.node, dialer=hello.node, read=context.read, write=context.write,
                              identity=origin)
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
        options = self.settings.grpc_options()
        identity: WorkloadId | None = None
        if isinstance(self.tls, LinkTls):
            try:
                identity = self.identity.workload.with_node(peer)
            except ValueError:
                raise PeerGone(f"node {peer!r} has no valid node name for a certificate") from None
            options += self.tls.target_options(peer)
            channel = grpc.aio.secure_channel(f"{host}:{port}", self.tls.channel_credentials(), options=options)
        else:
            channel = grpc.aio.insecure_channel(f"{host}:{port}", options=options)
        try:
            call = channel.stream_stream(METHOD, request_serializer=pb.Frame.SerializeToString,
                                         response_deserializer=pb.Frame.FromString)()
            async with asyncio.timeout(self.settings.handshake_timeout):
                await call.write(self._hello(replace=replace))
                answer = await call.read()
        except (grpc.aio.AioRpcError, TimeoutError, OSError) as error:
            await channel.close()
            if isinstance(error, grpc.aio.AioRpcError) and error.code() == grpc.StatusCode.PERMISSION_DENIED:
                raise PeerRejected(f"node {peer!r} at {host}:{port} refused this node (its log says why)") from None
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
                              closer=channel.close, identity=identity)
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
                  write: Callable[[pb.Frame], Awaitable[None]], closer: Callable[[], object] | None = None,
                  identity: WorkloadId | None = None) -> PeerLink:
        return PeerLink(peer, dialer, read, write, self._on_envelopes, self.settings.max_frame_bytes,
                        self.settings.high_water, closer, identity)

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
