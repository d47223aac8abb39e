"""Certificates of 3 seconds, renewed at two thirds: a link outlives the certificates it was made with, and
new links made after those expired work (the server presents its renewed certificate, the dialer its own)."""

from __future__ import annotations

import asyncio
import datetime as dt

from autonomy import Node

from .test_cross_node import wait_for_nodes

LIFETIME = 3.0


async def test_links_survive_renewal_and_new_links_work_after_the_first_certificates_expired(
        local_zone, node_options) -> None:
    short = {"AUTONOMY_DEV_CERT_LIFETIME": str(LIFETIME)}
    local_zone.start("r1", "runner-pod", extra_env=short)
    options = dict(node_options, dev_cert_lifetime=LIFETIME)
    async with Node.serve(name="driver", **options) as driver:
        first = driver._credentials.credentials
        assert (first.not_after - first.not_before) <= dt.timedelta(seconds=LIFETIME + 61)  # backdated 1 min
        await wait_for_nodes(driver, 1, "runner")
        assert await driver.send_and_receive("echo", "0", node="r1", timeout=5) == "echo:0"
        link = driver._transport.link_if_open("r1")
        assert link is not None

        # Messages keep flowing on the same link while both ends renew, and after their first
        # certificates have expired.
        loop = asyncio.get_running_loop()
        until = loop.time() + 2 * LIFETIME
        sent = 0
        while loop.time() < until:
            sent += 1
            assert await driver.send_and_receive("echo", str(sent), node="r1", timeout=5) == f"echo:{sent}"
            await asyncio.sleep(0.25)
        assert dt.datetime.now(dt.UTC) > first.not_after  # the driver's first certificate has expired
        assert driver._transport.link_if_open("r1") is link
        assert driver._credentials.renewals >= 2
        assert driver._credentials.credentials.certificate_pem != first.certificate_pem
        assert driver._credentials.credentials.key_pem != first.key_pem  # a new key with each certificate

        # A new node dials r1: r1's server presents its renewed certificate (its first one has expired).
        async with Node.serve(name="late", **options) as late:
            assert await late.send_and_receive("echo", "late", node="r1", timeout=5) == "echo:late"
        # The driver dials a new node with its renewed certificate (started in a thread: the driver's loop
        # must go on renewing meanwhile, as a node's does).
        await asyncio.to_thread(local_zone.start, "r2", "runner-pod", extra_env=short)
        await wait_for_nodes(driver, 2, "runner")
        assert await driver.send_and_receive("echo", "new", node="r2", timeout=5) == "echo:new"
        assert driver._transport.link_if_open("r1") is link
