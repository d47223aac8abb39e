"""The Node: one Python process, one event loop, the place where actors, transport, discovery and HTTP
are wired together. Nothing below this layer knows about the others.

Life of a node: get a certificate for its zone identity -> listen for peers (gRPC, mutual TLS) ->
announce itself (discovery) -> serve HTTP -> ready -> run `main(node)` -> wait for SIGTERM/SIGINT ->
not ready -> leave discovery -> stop HTTP -> let in-flight messages finish -> close peer links. The
certificate is renewed in the background all along (node/identity.py says who issues it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from autonomy.actors import ActorRegistry, Mailbox, Overflow
from autonomy.discovery.base import NodeInfo
from autonomy.discovery.local import LocalDiscovery, default_registry_dir
from autonomy.errors import (
    AutonomyError,
    DeliveryError,
    MessageTooLarge,
    PeerGone,
    error_code,
    error_from_code,
)
from autonomy.identity import WorkloadId
from autonomy.identity.renewal import CredentialKeeper
from autonomy.logs import configure_from_environment
from autonomy.names import check_address, random_hex
from autonomy.node import process_tuning
from autonomy.node.controller import CONTROLLER_ADDRESS, NodeController
from autonomy.node.gc_pacing import GcPacer
from autonomy.node.identity import choose_issuer, node_workload
from autonomy.node.ports import Discovery, NodeHttpServer, StandaloneDiscovery
from autonomy.node.settings import DEFAULT_TRANSPORT_PORT, NodeSettings
from autonomy.transport import GrpcTransport, Identity, LinkTls, TransportSettings
from autonomy.transport.protos import transport_pb2 as pb

logger = logging.getLogger("autonomy.node")

MainFunction = Callable[["Node"], Awaitable[Any]]

# The HTTP layer registers its server class here on import (it sits above this layer).
_default_http_server: Callable[[], NodeHttpServer] | None = None


def set_default_http_server(factory: Callable[[], NodeHttpServer]) -> None:
    global _default_http_server
    _default_http_server = factory


class _RemoteReply:
    """Reply target for a message that came from another node: replies go back on the peer link."""

    __slots__ = ("node", "origin", "peer", "reply_to", "request_id")

    def __init__(self, node: Node, peer: str, reply_to: str, request_id: int,
                 origin: WorkloadId | None = None) -> None:
        self.node = node
        self.peer = peer
        self.reply_to = reply_to
        self.request_id = request_id
        #: The sender's identity as its certificate proved it on the link this came by (None without TLS).
        self.origin = origin

    async def reply(self, message: str) -> None:
        self.node._check_size(message)
        await self.node._transport.send(self.peer, (1, self.reply_to, message, "", self.request_id, 0, "", b""))

    def fail(self, error: AutonomyError) -> None:
        link = self.node._transport.link_if_open(self.peer)
        if link is not None:
            link.send((2, self.reply_to, str(error), "", self.request_id, 0, error_code(error), b""))


class Node:
    """A node of a zone. Apps get one from `Node.start(main)`; `main(node)` receives it."""

    def __init__(self, settings: NodeSettings | None = None,
                 http_server: NodeHttpServer | bool | None = None) -> None:
        self.settings = settings or NodeSettings.from_environment()
        self._actors = ActorRegistry(self.settings.name)
        self._request_ids = itertools.count(1)
        #: This node's zone identity: what its certificate names, and what peers are checked against.
        self.workload = node_workload(self.settings)
        self._credentials = CredentialKeeper(choose_issuer(self.settings, self.workload), self.workload)
        self._tls = LinkTls()
        self._credentials.on_renewed(self._tls.update)
        self._transport = GrpcTransport(
            Identity(self.workload, self.settings.pod),
            TransportSettings(host=self.settings.transport_host, port=self.settings.transport_port),
            on_envelopes=self._on_envelopes, on_peer_down=self._on_peer_down, resolve=self._resolve,
            tls=self._tls,
        )
        self._discovery: Discovery = self._make_discovery()
        if http_server is None and _default_http_server is not None:
            http_server = _default_http_server()
        self._http: NodeHttpServer | None = http_server if not isinstance(http_server, bool) else None
        self._stop_requested = asyncio.Event()
        self._ready = False
        self._started = False
        #: Agents started on this node, by name (filled by the agents layer; read by `/agents`).
        self.agents: dict[str, Any] = {}
        #: MCP servers this node calls, by name (`Node.start(mcp_clients=[...])`).
        self.mcp_clients: dict[str, Any] = {}
        self._stop_callbacks: list[Callable[[], Awaitable[None]]] = []

    # -- identity -----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def stopping(self) -> bool:
        """True from the moment a stop is asked for (`stop_soon`, SIGTERM, `stop`): probes say not ready."""
        return self._stop_requested.is_set()

    @property
    def transport_port(self) -> int:
        return self._transport.port

    async def identifier(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Node({self.name!r}, zone={self.settings.zone!r}, pod={self.settings.pod!r})"

    # -- lifecycle ----------------------------------------------------------------------------------

    @staticmethod
    def start(main: MainFunction | None = None, name: str | None = None, ticket: str | None = None,
              allow: str | None = None, http_server: NodeHttpServer | bool | None = None,
              wait_until_interrupted: bool = True, cache_secure_channels: bool = False,
              use_local_db: bool = False, **options: Any) -> None:
        """Run a node until interrupted (blocking), calling `main(node)` once it is up.

        As upstream: with `main=None` the node just serves (a runner pod's whole program is
        `Node.start()`); AUTONOMY_WAIT_UNTIL_INTERRUPTED=0 makes it stop when `main` returns.
        `ticket`, `allow`, `cache_secure_channels` and `use_local_db` are accepted for upstream apps and
        have nothing to do here: peers are admitted by the zone handshake and links are always reused.
        """
        env_wait = os.environ.get("AUTONOMY_WAIT_UNTIL_INTERRUPTED")
        if env_wait is not None:
            wait_until_interrupted = env_wait.strip().lower() not in ("0", "false", "no", "")
        configure_from_environment()
        process_tuning.tune_for_server()
        try:
            asyncio.run(Node._run(main, name, http_server, wait_until_interrupted, options))
        except KeyboardInterrupt:
            pass
        except (OSError, ValueError) as error:  # bad settings or a taken port: one clear line, exit 1
            logger.error("node failed to start: %s", error)
            sys.exit(1)

    @staticmethod
    async def _run(main: MainFunction | None, name: str | None, http_server: NodeHttpServer | bool | None,
                   wait: bool, options: dict[str, Any]) -> None:
        settings = NodeSettings.from_environment(name=name)
        previous_handlers: dict[int, Any] = {}
        loop = asyncio.get_running_loop()
        pacer = GcPacer(loop) if process_tuning.enabled() else None
        try:
            async with Node.serve(settings=settings, http_server=http_server, **options) as node:
                process_tuning.freeze_startup_objects()
                if pacer is not None:
                    pacer.start()
                previous_handlers = _handle_stop_signals(loop, node.stop_soon)
                if main is not None:
                    main_task = asyncio.ensure_future(main(node))
                    stopper = asyncio.ensure_future(node._stop_requested.wait())
                    await asyncio.wait([main_task, stopper], return_when=asyncio.FIRST_COMPLETED)
                    if not main_task.done():
                        main_task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await main_task
                        stopper.cancel()
                        return
                    stopper.cancel()
                    error = main_task.exception()
                    if error is not None:
                        logger.error("main(node) failed", exc_info=error)
                        raise SystemExit(1)
                    process_tuning.freeze_startup_objects()  # main set up the app's agents and workers: they stay
                if wait:
                    await node.interrupted()
        finally:
            if pacer is not None:
                pacer.stop()
            for sig, handler in previous_handlers.items():  # the node has stopped: signals go back to their owner
                signal.signal(sig, handler)

    @classmethod
    @contextlib.asynccontextmanager
    async def serve(cls, name: str | None = None, settings: NodeSettings | None = None,
                    http_server: NodeHttpServer | bool | None = None, **overrides: Any) -> AsyncIterator[Node]:
        """Start a node in the running event loop and stop it on exit (for embedding and tests)."""
        settings = settings or NodeSettings.from_environment(name=name)
        # The agents layer's MCP server and clients (duck-typed: this layer sits below agents).
        mcp_server = overrides.pop("mcp_server", None)
        mcp_clients = overrides.pop("mcp_clients", None) or []
        for key, value in overrides.items():
            if not hasattr(settings, key):
                raise TypeError(f"unknown node option {key!r}")
            setattr(settings, key, value)
        node = cls(settings, http_server=http_server)
        node.mcp_clients = {client.name: client for client in mcp_clients}
        await node._start()
        try:
            if mcp_server is not None:
                await mcp_server.start(node)
            yield node
        finally:
            if mcp_server is not None:
                await mcp_server.stop()
            await node.stop()

    def _make_discovery(self) -> Discovery:
        s = self.settings
        if s.discovery == "kubernetes":
            from autonomy.discovery.kubernetes import KubernetesDiscovery

            if not s.namespace or not s.zone:
                raise ValueError("Kubernetes discovery needs NAMESPACE and ZONE in the environment")
            # Every node of a zone listens on the same port; 0 (any port) cannot be advertised that way.
            return KubernetesDiscovery(s.namespace, s.zone, s.transport_port or DEFAULT_TRANSPORT_PORT)
        if s.discovery == "none":
            return StandaloneDiscovery()
        return LocalDiscovery(s.registry_dir or default_registry_dir(s.cluster, s.zone))

    async def _start(self) -> None:
        self._actors.add(CONTROLLER_ADDRESS, NodeController(self), hidden=True)
        self._tls.update(await self._credentials.start())
        try:
            port = await self._transport.start()
        except BaseException:
            await self._credentials.stop()
            raise
        s = self.settings
        me = NodeInfo(s.name, s.pod, s.pod_ip, port)
        try:
            await self._discovery.start(me)
            if self._http is not None:
                await self._http.start(self)
        except BaseException:
            await self._discovery.stop()
            await self._transport.stop(0)
            await self._credentials.stop()
            raise
        self._started = True
        self._ready = True
        logger.info("node %s up (transport :%d, discovery %s)", s.name, port, s.discovery)

    def stop_soon(self) -> None:
        """Ask the node to stop (what SIGTERM and SIGINT do)."""
        self._stop_requested.set()

    async def interrupted(self) -> None:
        await self._stop_requested.wait()

    async def stop(self) -> None:
        """Stop accepting, drain in-flight messages, close peer links. Safe to call twice."""
        if not self._started:
            return
        self._started = False
        self._ready = False
        self._stop_requested.set()
        await self._discovery.stop()
        if self._http is not None:
            await self._http.stop()
        await self._actors.drain(self.settings.shutdown_grace)
        for callback in reversed(self._stop_callbacks):
            try:
                await callback()
            except Exception:
                logger.exception("node %s: a stop callback failed", self.name)
        await self._transport.stop(grace=1.0)
        await self._credentials.stop()
        logger.info("node %s stopped", self.name)

    def add_stop_callback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback()` when the node stops, after in-flight messages drained (once, however often added).

        Upper layers use it to release what they opened on this node's loop, such as model connection pools.
        """
        if callback not in self._stop_callbacks:
            self._stop_callbacks.append(callback)

    # -- workers ------------------------------------------------------------------------------------

    async def start_worker(self, name: str, worker: Any, policy: Any = None, exposed_as: str | None = None,
                           *, mailbox_size: int | None = None, overflow: Overflow | str = Overflow.REJECT) -> None:
        """Start `worker` at address `name` on this node (`policy` and `exposed_as` as upstream, unused)."""
        check_address(name)
        self._actors.add(name, worker, capacity=mailbox_size or self.settings.mailbox_size,
                         overflow=Overflow(overflow))

    async def start_internal_worker(self, name: str, worker: Any, **kwargs: Any) -> None:
        """Like start_worker, hidden from list_workers (the runtime's and the agents' own actors)."""
        self._actors.add(name, worker, hidden=True, capacity=kwargs.get("mailbox_size") or self.settings.mailbox_size,
                         overflow=Overflow(kwargs.get("overflow", Overflow.REJECT)))

    async def stop_worker(self, name: str) -> None:
        self._actors.remove(name)

    async def list_workers(self) -> list[dict[str, Any]]:
        return [{"name": name} for name in self._actors.names()]

    async def list_agents(self) -> list[dict[str, Any]]:
        described = []
        for name, agent in self.agents.items():
            describe = getattr(agent, "describe", None)
            described.append(describe() if callable(describe) else {"name": name})
        return described

    # -- messaging ----------------------------------------------------------------------------------

    def _check_size(self, message: str) -> None:
        if not isinstance(message, str):
            raise TypeError(f"messages are str, not {type(message).__name__}: json.dumps structured data")
        # len() counts characters; UTF-8 needs at most 4 bytes each, so only long strings are encoded.
        limit = self.settings.max_message_bytes
        if len(message) * 4 > limit and len(message.encode()) > limit:
            raise MessageTooLarge(f"message of {len(message.encode())} bytes is over the {limit}-byte limit "
                                  "(AUTONOMY_MAX_MESSAGE_BYTES)")

    def _new_mailbox(self, timeout: float | None, address: str | None = None) -> Mailbox:
        deadline = asyncio.get_running_loop().time() + (timeout or self.settings.request_timeout)
        mailbox = Mailbox(address or f"_mbox_{random_hex(8)}", self._send, deadline)
        self._actors.add_mailbox(mailbox)
        return mailbox

    async def create_mailbox(self, address: str | None = None, policy: Any = None) -> Mailbox:
        """A named mailbox: messages sent to its address wait in it; it can also send (as reply-to)."""
        if address is not None:
            check_address(address)
        mailbox = self._new_mailbox(None, address)
        mailbox.deadline = None
        return mailbox

    async def send(self, address: str, message: str, node: str | None = None, policy: Any = None,
                   timeout: float | None = None) -> Mailbox:
        """Send `message` to `address` (on `node`); replies arrive in the returned mailbox."""
        mailbox = self._new_mailbox(timeout)
        await self._send(address, message, node, mailbox, timeout)
        return mailbox

    async def send_and_receive(self, address: str, message: str, node: str | None = None, policy: Any = None,
                               timeout: float | None = None) -> str:
        """Request and reply: the first reply to `message`, or DeadlineExceeded after `timeout` seconds."""
        mailbox = self._new_mailbox(timeout)
        try:
            await self._send(address, message, node, mailbox, timeout)
            return await mailbox.receive(timeout)
        finally:
            mailbox.close()

    async def tell(self, address: str, message: str, node: str | None = None) -> None:
        """Fire and forget: no mailbox, no reply, the cheapest send there is."""
        await self._send(address, message, node, None, None)

    async def _send(self, address: str, message: str, node: str | None, reply_to: Mailbox | None,
                    timeout: float | None, blob: bytes = b"") -> None:
        self._check_size(message)
        if node is None or node == self.name:
            deadline = reply_to.deadline if reply_to is not None and reply_to.deadline else 0.0
            self._actors.post(address, message, reply_to, blob, deadline)
            return
        if reply_to is None:
            await self._transport.send(node, (0, address, message, "", 0, 0, "", blob))
            return
        reply_to.peers.add(node)
        remaining = (reply_to.deadline - asyncio.get_running_loop().time()) if reply_to.deadline else \
            (timeout or self.settings.request_timeout)
        deadline_ms = int((time.time() + max(remaining, 0.0)) * 1000)
        request_id = next(self._request_ids)
        await self._transport.send(node, (0, address, message, reply_to.address, request_id, deadline_ms, "", blob))

    # -- inbound ------------------------------------------------------------------------------------

    def _on_envelopes(self, peer: str, envelopes: Sequence[pb.Envelope], origin: WorkloadId | None) -> None:
        actors = self._actors
        post = actors.post
        dropped = 0
        first_error: DeliveryError | None = None
        for envelope in envelopes:
            kind = envelope.kind
            if kind == 0:
                reply_to = envelope.reply_to
                if not reply_to:
                    try:
                        post(envelope.address, envelope.body, None, envelope.blob)
                    except DeliveryError as error:  # fire-and-forget: nobody to tell but the log
                        dropped += 1
                        first_error = first_error or error
                    continue
                target = _RemoteReply(self, peer, reply_to, envelope.request_id, origin)
                deadline = 0.0
                if envelope.deadline_ms:
                    loop_time = asyncio.get_running_loop().time()
                    deadline = loop_time + (envelope.deadline_ms / 1000.0 - time.time())
                try:
                    post(envelope.address, envelope.body, target, envelope.blob, deadline)
                except DeliveryError as error:
                    target.fail(error)
            else:
                mailbox = actors.mailbox(envelope.address)
                if mailbox is None:
                    continue  # the requester stopped waiting; nothing to do
                if kind == 1:
                    mailbox.put(envelope.body)
                else:
                    mailbox.put(error_from_code(envelope.error_code, envelope.body))
        if dropped:
            logger.warning("dropped %d one-way message(s) from %s: %s", dropped, peer, first_error)

    def _on_peer_down(self, peer: str, reason: str) -> None:
        for mailbox in self._actors.mailboxes():
            if peer in mailbox.peers:
                mailbox.peers.discard(peer)
                mailbox.fail(PeerGone(f"node {peer!r} went away: {reason}"))

    async def _resolve(self, peer: str) -> tuple[str, int] | None:
        info = await self._discovery.resolve(peer)
        return (info.host, info.port) if info is not None else None

    async def _zone_nodes(self) -> list[NodeInfo]:
        return await self._discovery.nodes()


def _handle_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> dict[int, Any]:
    """SIGTERM and SIGINT stop the node, however busy its loop is.

    Not `loop.add_signal_handler`: that delivers a signal as one byte on the loop's self-pipe, which every
    `call_soon_threadsafe` (each database call in a thread, each gRPC completion) also writes to. Under
    load the pipe fills, the signal's byte is dropped ("Exception ignored when trying to write to the
    signal wakeup fd") and the node never hears SIGTERM: measured after 10,000 agent calls at once. A
    Python-level handler always runs, in the main thread, at the next bytecode.
    """

    def on_signal(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stop)

    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: the embedding program owns signals
            previous[sig] = signal.signal(sig, on_signal)
    return previous
