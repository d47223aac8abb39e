"""The node side of the CSR API without an apiserver: what it makes of the signer's answers. (End to end
against the real apiserver and operator: tests/control_plane/test_node_certificates.py.)"""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from autonomy.identity import CertificateRefused, WorkloadId, ZoneAuthority, make_csr, new_private_key
from autonomy.identity.kubernetes_csr import (
    CertificateIssuanceError,
    KubernetesCsrIssuer,
    _check_answer,
    _csr_name_prefix,
    _outcome,
)

CLUSTER = "0123456789abcdef0123456789abcdef"
NODE = WorkloadId(CLUSTER, "team-a", "shop", "shop-main-pod-5d8f9-x2x7q")


def test_csr_names_follow_the_node() -> None:
    assert _csr_name_prefix("shop-main-pod-5d8f9-x2x7q") == "shop-main-pod-5d8f9-x2x7q-"
    assert _csr_name_prefix("Runner_1") == "runner-1-"
    assert _csr_name_prefix("___") == "node-"
    assert len(_csr_name_prefix("a" * 253)) <= 201


def test_outcomes() -> None:
    assert _outcome({"status": {}}) is None
    assert _outcome({"status": {"conditions": [{"type": "Approved", "status": "True"}]}}) is None
    assert _outcome({"status": {"certificate": base64.b64encode(b"PEM").decode()}}) == b"PEM"
    denied = {
        "metadata": {"name": "c1"},
        "status": {"conditions": [{"type": "Denied", "status": "True", "reason": "NotAZonePod", "message": "m"}]},
    }
    with pytest.raises(CertificateRefused, match="denied CertificateSigningRequest c1: NotAZonePod: m"):
        _outcome(denied)
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "WrongCluster"}]}}
    with pytest.raises(CertificateRefused, match=r"failed .*WrongCluster"):
        _outcome(failed)


def test_the_answer_must_be_for_our_key_and_of_the_bundle() -> None:
    authority = ZoneAuthority.create(CLUSTER, "team-a", "shop")
    csr = make_csr(new_private_key(), NODE, (NODE.dns_name,))
    certificate = authority.issue(csr, NODE, dns_names=(NODE.dns_name,))
    _check_answer(csr, certificate, authority.certificate_pem(), "c1")
    other_zone = ZoneAuthority.create(CLUSTER, "team-a", "other")
    with pytest.raises(CertificateIssuanceError, match="not issued by the zone's trust bundle"):
        _check_answer(csr, certificate, other_zone.certificate_pem(), "c1")
    # Both CAs in the bundle (a rotation): accepted.
    _check_answer(csr, certificate, other_zone.certificate_pem() + authority.certificate_pem(), "c1")
    another_key = make_csr(new_private_key(), NODE, (NODE.dns_name,))
    with pytest.raises(CertificateIssuanceError, match="another key"):
        _check_answer(another_key, certificate, authority.certificate_pem(), "c1")


async def test_bad_settings_are_clear() -> None:
    with pytest.raises(ValueError, match="namespace"):
        KubernetesCsrIssuer("")
    with pytest.raises(ValueError, match="at least 600"):
        KubernetesCsrIssuer("team-a", lifetime=dt.timedelta(minutes=5))
    with pytest.raises(ValueError, match="not of namespace"):
        await KubernetesCsrIssuer("team-b").issue(b"", NODE)
