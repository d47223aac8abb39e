"""A node's credentials and how it gets them: the node makes its key (it never leaves the process),
asks an issuer to sign a CSR for its identity, and renews before expiry.

Issuers: the Kubernetes `certificates.k8s.io/v1` CSR API in a cluster (the operator signs), and a
`ZoneAuthority` held by `zone dev` for a local run (LocalAuthorityIssuer here, for tests and dev).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from autonomy.identity.authority import DEFAULT_LEAF_LIFETIME, ZoneAuthority, workload_of_certificate
from autonomy.identity.keys import make_csr, new_private_key, private_key_pem
from autonomy.identity.spiffe import WorkloadId

#: Renew when this share of the certificate's lifetime has passed (Istio, Linkerd and cert-manager
#: renew at about two thirds).
RENEW_AT_FRACTION = 2 / 3


class CertificateIssuer(Protocol):
    async def issue(self, csr_pem: bytes, workload: WorkloadId) -> tuple[bytes, bytes]:
        """Sign `csr_pem` for `workload`: (certificate PEM, the zone's trust bundle PEM)."""
        ...


@dataclass(frozen=True)
class NodeCredentials:
    key_pem: bytes
    certificate_pem: bytes
    trust_bundle_pem: bytes
    workload: WorkloadId
    not_before: dt.datetime
    not_after: dt.datetime
    #: When this node received the certificate (issuers backdate not_before for clock skew).
    obtained_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def renew_at(self) -> dt.datetime:
        """Two thirds into the part of the lifetime this node holds the certificate for."""
        start = max(self.not_before, min(self.obtained_at, self.not_after))
        return start + (self.not_after - start) * RENEW_AT_FRACTION


async def obtain_credentials(issuer: CertificateIssuer, workload: WorkloadId,
                             dns_names: tuple[str, ...] = ()) -> NodeCredentials:
    """A fresh key and a certificate for `workload` from `issuer`; checks the answer names `workload`."""
    key = new_private_key()
    certificate_pem, bundle_pem = await issuer.issue(make_csr(key, workload, dns_names), workload)
    if workload_of_certificate(certificate_pem) != workload:
        raise ValueError(f"the issuer answered with a certificate for another identity than {workload.uri}")
    leaf = x509.load_pem_x509_certificate(certificate_pem)
    if leaf.public_key() != key.public_key():
        raise ValueError("the issuer answered with a certificate for another key than this node's")
    if not _issued_by_bundle(leaf, bundle_pem):
        raise ValueError("the issuer's certificate does not chain to the zone's trust bundle it sent")
    return NodeCredentials(private_key_pem(key), certificate_pem, bundle_pem, workload,
                           leaf.not_valid_before_utc, leaf.not_valid_after_utc)


def _issued_by_bundle(leaf: x509.Certificate, bundle_pem: bytes) -> bool:
    """Whether a CA of the bundle signed `leaf` (a check with a clear error here beats a failed handshake
    on every link later; TLS verifies the chain again on each one)."""
    try:
        authorities = x509.load_pem_x509_certificates(bundle_pem)
    except ValueError:
        return False
    for authority in authorities:
        try:
            leaf.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


class LocalAuthorityIssuer:
    """Signs with a ZoneAuthority in this process: `zone dev`'s supervisor and tests."""

    def __init__(self, authority: ZoneAuthority, lifetime: dt.timedelta | None = None) -> None:
        self.authority = authority
        self.lifetime = lifetime

    async def issue(self, csr_pem: bytes, workload: WorkloadId) -> tuple[bytes, bytes]:
        # As the operator does: the one DNS name a node may have is its own (`WorkloadId.dns_name`).
        dns_names = (workload.dns_name,) if _asks_for_dns(csr_pem) else ()
        lifetime = DEFAULT_LEAF_LIFETIME if self.lifetime is None else self.lifetime
        certificate = self.authority.issue(csr_pem, workload, lifetime, dns_names)
        return certificate, self.authority.certificate_pem()


def _asks_for_dns(csr_pem: bytes) -> bool:
    """Whether a CSR asks for any DNS name (the authority then checks it asks for exactly the node's)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False  # the authority refuses it with the reason
    return bool(san.get_values_for_type(x509.DNSName))
