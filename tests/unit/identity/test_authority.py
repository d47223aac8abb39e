"""The zone CA issues exactly the identity it is told to, for its own zone, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from autonomy.identity import (
    CertificateRefused,
    LocalAuthorityIssuer,
    WorkloadId,
    ZoneAuthority,
    make_csr,
    new_private_key,
    obtain_credentials,
    workload_of_certificate,
)

CLUSTER = "0123456789abcdef0123456789abcdef"
NODE = WorkloadId(CLUSTER, "team-a", "fanout", "fanout-runner-7d9f-abcde")


def test_spiffe_uri_round_trips_and_rejects_lookalikes() -> None:
    assert NODE.uri == f"spiffe://{CLUSTER}/ns/team-a/zone/fanout/node/fanout-runner-7d9f-abcde"
    assert WorkloadId.parse(NODE.uri) == NODE
    for bad in (f"spiffe://{CLUSTER}/ns/team-a/zone/fanout", f"spiffe://{CLUSTER}/ns/a/b/zone/z/node/n",
                f"https://{CLUSTER}/ns/a/zone/z/node/n", f"spiffe://{CLUSTER}/ns/A/zone/z/node/n",
                f"spiffe://{CLUSTER}/ns//zone/z/node/n"):
        with pytest.raises(ValueError):
            WorkloadId.parse(bad)


def test_issues_a_short_lived_leaf_for_exactly_the_identity() -> None:
    authority = ZoneAuthority.create(CLUSTER, "team-a", "fanout")
    key = new_private_key()
    pem = authority.issue(make_csr(key, NODE), NODE, lifetime=dt.timedelta(minutes=10))
    leaf = x509.load_pem_x509_certificate(pem)
    assert workload_of_certificate(pem) == NODE
    assert leaf.issuer == authority.certificate.subject
    assert dt.timedelta(minutes=9) < leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) \
        <= dt.timedelta(minutes=10)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    authority.certificate.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes,
                                              ec.ECDSA(leaf.signature_hash_algorithm))  # type: ignore[arg-type]


def test_refuses_another_zone_another_name_and_extra_names() -> None:
    authority = ZoneAuthority.create(CLUSTER, "team-a", "fanout")
    key = new_private_key()
    other_zone = WorkloadId(CLUSTER, "team-a", "other", "n1")
    with pytest.raises(CertificateRefused, match="not of this CA's zone"):
        authority.issue(make_csr(key, other_zone), other_zone)
    # The CSR asks for one node, the caller decided on another: refused, not silently rewritten.
    with pytest.raises(CertificateRefused, match="exactly"):
        authority.issue(make_csr(key, NODE.with_node("someone-else")), NODE)
    with pytest.raises(CertificateRefused, match="other than"):
        authority.issue(make_csr(key, NODE, dns_names=("evil.example",)), NODE)
    with pytest.raises(CertificateRefused, match="PEM"):
        authority.issue(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", NODE)


def test_authority_survives_pem_round_trip() -> None:
    authority = ZoneAuthority.create(CLUSTER, "team-a", "fanout")
    again = ZoneAuthority.from_pem(authority.key_pem(), authority.certificate_pem())
    assert (again.cluster, again.namespace, again.zone) == (CLUSTER, "team-a", "fanout")
    assert again.owns(NODE)


async def test_obtain_credentials_through_an_issuer() -> None:
    authority = ZoneAuthority.create(CLUSTER, "team-a", "fanout")
    credentials = await obtain_credentials(LocalAuthorityIssuer(authority, dt.timedelta(minutes=30)), NODE)
    assert credentials.workload == NODE
    assert credentials.trust_bundle_pem == authority.certificate_pem()
    assert credentials.not_before < credentials.renew_at < credentials.not_after


def test_dns_name_is_per_node_and_issued_when_asked() -> None:
    other = NODE.with_node("fanout-runner-other")
    assert NODE.dns_name != other.dns_name
    assert NODE.dns_name.endswith(f".fanout.team-a.{CLUSTER}.zone.autonomy")
    assert all(len(label) <= 63 for label in WorkloadId(CLUSTER, "a", "b", "x_" * 120 + "x").dns_name.split("."))
    authority = ZoneAuthority.create(CLUSTER, "team-a", "fanout")
    pem = authority.issue(make_csr(new_private_key(), NODE, (NODE.dns_name,)), NODE, dns_names=(NODE.dns_name,))
    san = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [NODE.dns_name]
