"""Keeping a node's certificate fresh: obtain one at start, renew at `renew_at` in the background.

Each renewal makes a new key and a new CSR (a key never outlives its certificate for long). Listeners
hear about each new set of credentials (the transport: new links use it; links already up keep the TLS
session they established). A failed renewal is retried, faster as expiry nears; links stay up meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from autonomy.identity.credentials import CertificateIssuer, NodeCredentials, obtain_credentials
from autonomy.identity.spiffe import WorkloadId

logger = logging.getLogger("autonomy.identity")

#: Shortest wait between two attempts, and the longest wait after a failure.
MIN_RETRY = 0.2
MAX_RETRY = 30.0

Listener = Callable[[NodeCredentials], None]


class CredentialKeeper:
    """The node's current credentials for `workload`, from `issuer`, renewed before they expire."""

    def __init__(self, issuer: CertificateIssuer, workload: WorkloadId) -> None:
        self.issuer = issuer
        self.workload = workload
        self._credentials: NodeCredentials | None = None
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self.renewals = 0

    @property
    def credentials(self) -> NodeCredentials:
        if self._credentials is None:
            raise RuntimeError("no credentials yet: await CredentialKeeper.start() first")
        return self._credentials

    def on_renewed(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def obtain(self) -> NodeCredentials:
        credentials = await obtain_credentials(self.issuer, self.workload, (self.workload.dns_name,))
        self._credentials = credentials
        return credentials

    async def start(self) -> NodeCredentials:
        """Obtain the first credentials (errors propagate: a node without them cannot start), then renew."""
        credentials = await self.obtain()
        self._task = asyncio.get_running_loop().create_task(self._renew_forever(), name="certificate-renewal")
        return credentials

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _renew_forever(self) -> None:
        delay = _seconds_until(self.credentials.renew_at)
        while True:
            await asyncio.sleep(max(MIN_RETRY, delay))
            try:
                credentials = await self.obtain()
            except Exception as error:  # the issuer is down or refuses: keep the links, try again
                left = _seconds_until(self.credentials.not_after)
                delay = min(MAX_RETRY, max(MIN_RETRY, left / 10))
                logger.warning("certificate renewal for node %s failed (%s); retrying in %.1f s, %s",
                               self.workload.node, str(error)[:200], delay,
                               f"it expires in {left:.0f} s" if left > 0 else "it has expired")
                continue
            self.renewals += 1
            logger.debug("node %s renewed its certificate (valid until %s)", self.workload.node,
                         credentials.not_after.isoformat())
            for listener in self._listeners:
                try:
                    listener(credentials)
                except Exception:
                    logger.exception("a certificate renewal listener failed")
            delay = _seconds_until(credentials.renew_at)


def _seconds_until(when: dt.datetime) -> float:
    return (when - dt.datetime.now(dt.UTC)).total_seconds()
