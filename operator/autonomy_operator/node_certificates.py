"""Node certificates in the operator: what the kopf handlers call (handlers.py registers them).

    csr_event        a CSR of signer autonomy.computer/zone-node appeared or changed -> CsrSigner.handle,
                     retried on API trouble; a refusal is also a Warning event on the CSR
    zone_event       a Zone is seen -> its CSR binding, CA and trust bundle are made (once per zone uid);
                     a Zone is deleted -> its CA Secret and CSR binding are deleted
    resync loop      every few minutes: open CSRs of the signer are handled again (one missed or left
                     pending while the Cluster had no id), and the CAs of zones deleted while the operator
                     was down are swept

The signer is on when the operator knows its own namespace (AUTONOMY_OPERATOR_CA_NAMESPACE, or the pod's
namespace): that is where the zones' CAs are kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import kopf

from autonomy.identity import SIGNER_NAME
from autonomy_operator.config import OperatorConfig
from autonomy_operator.kube import Kube, KubeError
from autonomy_operator.signer import CSR_PATH, CsrSigner, Refusal
from autonomy_operator.zone_identity import ForeignObject, ZoneIdentity, ZoneIdentityStore

__all__ = ["RESYNC_SECONDS", "NodeCertificates"]

log = logging.getLogger("autonomy_operator.node_certificates")

RESYNC_SECONDS = 300.0
_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)


class NodeCertificates:
    """The signer, the zones' identity store and their background tasks."""

    def __init__(self, kube: Kube, config: OperatorConfig) -> None:
        self.store = ZoneIdentityStore(kube, config.ca_namespace, config.node_csr_clusterrole)
        self.signer = CsrSigner(
            kube, self.store, dt.timedelta(seconds=config.node_cert_seconds), config.namespaces
        )
        self.kube = kube
        self.namespaces = config.namespaces
        self.cluster_id: Callable[[], str | None] = lambda: None
        self._ensured: set[tuple[str, str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def start(self, cluster_id: Callable[[], str | None], resync_seconds: float = RESYNC_SECONDS) -> None:
        self.cluster_id = cluster_id
        self._loop = asyncio.create_task(self._resync_loop(resync_seconds))

    async def stop(self) -> None:
        pending = [*self._tasks, *([self._loop] if self._loop is not None else [])]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- CSRs ---------------------------------------------------------------------------------------

    async def csr_event(self, name: str, body: Any = None) -> None:
        """Handle CSR `name`, retrying API trouble a few times (the resync loop catches the rest)."""
        for delay in (*_BACKOFF, None):
            try:
                outcome = await self.signer.handle(name, self.cluster_id())
            except KubeError as error:
                if delay is None:
                    log.warning("CSR %s not handled, left for the next resync: %s", name, error)
                    return
                await asyncio.sleep(delay)
                continue
            if isinstance(outcome, Refusal) and body is not None:
                _warn(body, outcome)
            return

    async def _resync(self) -> None:
        listing = await self.kube._call(
            "GET", CSR_PATH, None, [("fieldSelector", f"spec.signerName={SIGNER_NAME}")]
        )
        for item in listing.get("items", []):
            status = item.get("status") or {}
            if status.get("certificate") or any(
                c.get("type") in ("Denied", "Failed") for c in status.get("conditions") or []
            ):
                continue
            body = {**item, "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest"}
            await self.csr_event(item["metadata"]["name"], body)
        swept = await self.store.sweep(self.namespaces)
        if swept:
            log.info("swept %d CA Secrets and CSR bindings of deleted zones", swept)

    async def _resync_loop(self, interval: float) -> None:
        while True:
            try:
                await self._resync()
            except KubeError as error:
                log.warning("node certificate resync failed, will try again: %s", error)
            await asyncio.sleep(interval)

    # --- zones --------------------------------------------------------------------------------------

    def zone_event(self, kind: str | None, namespace: str, name: str, uid: str) -> None:
        if kind == "DELETED":
            self._ensured.discard((namespace, name, uid))
            self._spawn(self._forget(namespace, name, uid))
            return
        cluster_id = self.cluster_id()
        key = (namespace, name, uid)
        if not uid or cluster_id is None or key in self._ensured:
            return
        self._ensured.add(key)
        self._spawn(self._ensure(ZoneIdentity(namespace, name, uid, cluster_id)))

    async def _ensure(self, identity: ZoneIdentity) -> None:
        for delay in (*_BACKOFF, None):
            try:
                await self.store.ensure_csr_binding(identity.namespace, identity.zone)
                await self.store.authority(identity)
                return
            except ForeignObject as error:
                log.warning("zone %s/%s gets no node certificates: %s", identity.namespace, identity.zone, error)
                break
            except KubeError as error:
                if delay is None:
                    log.warning(
                        "zone %s/%s: CA or CSR binding not written: %s", identity.namespace, identity.zone, error
                    )
                    break
                await asyncio.sleep(delay)
        # Not done: the next event of the zone tries again.
        self._ensured.discard((identity.namespace, identity.zone, identity.uid))

    async def _forget(self, namespace: str, name: str, uid: str) -> None:
        for delay in (*_BACKOFF, None):
            try:
                await self.store.forget(namespace, name, uid)
                return
            except KubeError as error:
                if delay is None:
                    log.warning("zone %s/%s: CA not deleted yet (the resync sweeps it): %s", namespace, name, error)
                    return
                await asyncio.sleep(delay)


def _warn(body: Any, refusal: Refusal) -> None:
    try:
        kopf.warn(body, reason=refusal.reason, message=refusal.message)
    except LookupError:  # outside kopf's context: the Denied condition says it already
        pass
