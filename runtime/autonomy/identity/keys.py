"""Node keys and certificate signing requests. ECDSA P-256: what every TLS stack (BoringSSL in gRPC
included) and the Kubernetes CSR API accept, and cheap to make at every node start."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from autonomy.identity.spiffe import WorkloadId


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_csr(key: ec.EllipticCurvePrivateKey, workload: WorkloadId, dns_names: tuple[str, ...] = ()) -> bytes:
    """A PEM CSR asking for exactly `workload` (as the URI SAN) and `dns_names`."""
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(workload.uri)]
    names += [x509.DNSName(name) for name in dns_names]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, workload.node[:64])]))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)
