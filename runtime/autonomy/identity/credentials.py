"""A node's credentials and how it gets them: the node makes its key (it never leaves the process),
asks an issuer to sign a CSR for its identity, and renews before expiry.

Issuers: the Kubernetes `certificates.k8s.io/v1` CSR API in a cluster (the operator signs), and a
`ZoneAuthority` held by `zone dev` for a local run (LocalAuthorityIssuer here, for tests and dev).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509

from autonomy.identity.authority import ZoneAuthority, workload_of_certificate
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

    @property
    def renew_at(self) -> dt.datetime:
        return self.not_before + (self.not_after - self.not_before) * RENEW_AT_FRACTION


async def obtain_credentials(issuer: CertificateIssuer, workload: WorkloadId,
                             dns_names: tuple[str, ...] = ()) -> NodeCredentials:
    """A fresh key and a certificate for `workload` from `issuer`; checks the answer names `workload`."""
    key = new_private_key()
    certificate_pem, bundle_pem = await issuer.issue(make_csr(key, workload, dns_names), workload)
    if workload_of_certificate(certificate_pem) != workload:
        raise ValueError(f"the issuer answered with a certificate for another identity than {workload.uri}")
    leaf = x509.load_pem_x509_certificate(certificate_pem)
    return NodeCredentials(private_key_pem(key), certificate_pem, bundle_pem, workload,
                           leaf.not_valid_before_utc, leaf.not_valid_after_utc)


class LocalAuthorityIssuer:
    """Signs with a ZoneAuthority in this process: `zone dev`'s supervisor and tests."""

    def __init__(self, authority: ZoneAuthority, lifetime: dt.timedelta | None = None) -> None:
        self.authority = authority
        self.lifetime = lifetime

    async def issue(self, csr_pem: bytes, workload: WorkloadId) -> tuple[bytes, bytes]:
        if self.lifetime is None:
            certificate = self.authority.issue(csr_pem, workload)
        else:
            certificate = self.authority.issue(csr_pem, workload, self.lifetime)
        return certificate, self.authority.certificate_pem()
