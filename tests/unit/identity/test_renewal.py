"""A node's certificate is renewed before it expires, with a new key each time; listeners hear of it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from autonomy.identity import CertificateRefused, LocalAuthorityIssuer, NodeCredentials, WorkloadId, ZoneAuthority
from autonomy.identity.renewal import CredentialKeeper

NODE = WorkloadId("c1", "ns", "zone", "node-1")


async def test_renews_at_two_thirds_with_a_new_key() -> None:
    authority = ZoneAuthority.create("c1", "ns", "zone")
    keeper = CredentialKeeper(LocalAuthorityIssuer(authority, dt.timedelta(seconds=2)), NODE)
    heard: list[NodeCredentials] = []
    keeper.on_renewed(heard.append)
    first = await keeper.start()
    try:
        # The issuer backdates not_before by a minute; renewal is two thirds into the time the node holds it.
        assert first.not_before < first.obtained_at < first.renew_at < first.not_after
        assert (first.renew_at - first.obtained_at) < dt.timedelta(seconds=2)
        await asyncio.sleep(3.2)
    finally:
        await keeper.stop()
    assert len(heard) >= 2 and keeper.renewals == len(heard)
    assert heard[-1] is keeper.credentials
    assert len({c.key_pem for c in [first, *heard]}) == len(heard) + 1
    assert all(c.workload == NODE and c.trust_bundle_pem == authority.certificate_pem() for c in heard)


async def test_a_refused_first_certificate_stops_the_start() -> None:
    other = ZoneAuthority.create("c1", "ns", "other")
    keeper = CredentialKeeper(LocalAuthorityIssuer(other), NODE)
    with pytest.raises(CertificateRefused, match="not of this CA's zone"):
        await keeper.start()
    with pytest.raises(RuntimeError, match="no credentials yet"):
        _ = keeper.credentials
