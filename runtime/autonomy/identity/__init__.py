"""Zone identity: who a node is (a SPIFFE ID), the zone's certificate authority, and how a node gets and
renews its certificate. The transport checks peers against these; the operator and `zone dev` issue them.

    WorkloadId          spiffe://<clusterId>/ns/<namespace>/zone/<zone>/node/<node>
    ZoneAuthority       one CA per zone: issues a short-lived leaf for exactly one WorkloadId
    CertificateIssuer   how a node gets a certificate signed (the Kubernetes CSR API, or a local CA)
    NodeCredentials     a node's key, certificate and the zone's trust bundle, with its renewal time

Only `cryptography` does the cryptography; nothing here is hand-rolled.
"""

from autonomy.identity.authority import (
    DEFAULT_CA_LIFETIME,
    DEFAULT_LEAF_LIFETIME,
    CertificateRefused,
    ZoneAuthority,
    workload_of_certificate,
)
from autonomy.identity.credentials import (
    CertificateIssuer,
    LocalAuthorityIssuer,
    NodeCredentials,
    obtain_credentials,
)
from autonomy.identity.keys import make_csr, new_private_key, private_key_pem
from autonomy.identity.spiffe import SIGNER_NAME, WorkloadId

__all__ = [
    "DEFAULT_CA_LIFETIME",
    "DEFAULT_LEAF_LIFETIME",
    "SIGNER_NAME",
    "CertificateIssuer",
    "CertificateRefused",
    "LocalAuthorityIssuer",
    "NodeCredentials",
    "WorkloadId",
    "ZoneAuthority",
    "make_csr",
    "new_private_key",
    "obtain_credentials",
    "private_key_pem",
    "workload_of_certificate",
]
