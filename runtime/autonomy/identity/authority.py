"""One certificate authority per zone.

The CA signs leaves for exactly one WorkloadId each, and only for its own zone: `issue` ignores nothing
the requester asked for and adds nothing it did not; it refuses a CSR whose names are not exactly the
identity the caller (the operator, after checking who asked, or `zone dev`) decided to give. A leaf is
short-lived and never outlives its CA.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from autonomy.identity.keys import new_private_key, private_key_pem
from autonomy.identity.spiffe import WorkloadId

DEFAULT_CA_LIFETIME = dt.timedelta(days=365)
DEFAULT_LEAF_LIFETIME = dt.timedelta(hours=1)
#: Clock skew between nodes that a fresh certificate tolerates.
BACKDATE = dt.timedelta(minutes=1)
#: Largest CSR accepted (a P-256 CSR with a few names is under 1 KiB).
MAX_CSR_BYTES = 16 * 1024


class CertificateRefused(ValueError):
    """A CSR (or a peer certificate) that this zone's CA will not accept; the message names why."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ZoneAuthority:
    """A zone's CA: its key (kept where zone pods cannot read it) and its self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    cluster: str
    namespace: str
    zone: str

    @classmethod
    def create(cls, cluster: str, namespace: str, zone: str,
               lifetime: dt.timedelta = DEFAULT_CA_LIFETIME) -> ZoneAuthority:
        WorkloadId(cluster, namespace, zone, "ca")  # validates the names
        key = new_private_key()
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"autonomy cluster {cluster}"[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, f"zone {namespace}/{zone} CA"[:64]),
        ])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"spiffe://{cluster}/ns/{namespace}/zone/{zone}")]), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate, cluster, namespace, zone)

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes) -> ZoneAuthority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("zone CA key is not an EC key")
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        uris = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
            .get_values_for_type(x509.UniformResourceIdentifier)
        if len(uris) != 1 or not uris[0].startswith("spiffe://"):
            raise ValueError("zone CA certificate does not name its zone")
        cluster, _, rest = uris[0][len("spiffe://"):].partition("/")
        parts = rest.split("/")
        if len(parts) != 4 or parts[0] != "ns" or parts[2] != "zone":
            raise ValueError("zone CA certificate does not name its zone")
        return cls(key, certificate, cluster, parts[1], parts[3])

    def key_pem(self) -> bytes:
        return private_key_pem(self.key)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def owns(self, workload: WorkloadId) -> bool:
        return (workload.cluster, workload.namespace, workload.zone) == (self.cluster, self.namespace, self.zone)

    def issue(self, csr_pem: bytes, workload: WorkloadId, lifetime: dt.timedelta = DEFAULT_LEAF_LIFETIME,
              dns_names: tuple[str, ...] = ()) -> bytes:
        """A PEM leaf certificate for `workload`, from a CSR that asks for exactly that identity and
        `dns_names`. Raises CertificateRefused naming the problem."""
        if not self.owns(workload):
            raise CertificateRefused(f"identity {workload.uri} is not of this CA's zone")
        if len(csr_pem) > MAX_CSR_BYTES:
            raise CertificateRefused(f"CSR is over {MAX_CSR_BYTES} bytes")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError:
            raise CertificateRefused("CSR is not a PEM certificate signing request") from None
        try:
            if not csr.is_signature_valid:
                raise CertificateRefused("CSR signature does not verify")
        except InvalidSignature:
            raise CertificateRefused("CSR signature does not verify") from None
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
            raise CertificateRefused("CSR key must be ECDSA P-256")
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            raise CertificateRefused("CSR names no identity (no subjectAltName)") from None
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        dns = san.get_values_for_type(x509.DNSName)
        if uris != [workload.uri]:
            raise CertificateRefused(f"CSR must ask for exactly {workload.uri}")
        if sorted(dns) != sorted(dns_names) or len(san) != len(uris) + len(dns):
            raise CertificateRefused("CSR asks for names other than this node's")
        now = _now()
        not_after = min(now + lifetime, self.certificate.not_valid_after_utc)
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(workload.uri)]
        names += [x509.DNSName(name) for name in dns_names]
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, workload.node[:64])]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return leaf.public_bytes(serialization.Encoding.PEM)


def workload_of_certificate(certificate_pem: bytes) -> WorkloadId:
    """The one WorkloadId a leaf certificate names; CertificateRefused if it names none or several.
    The chain itself is verified by TLS against the zone's CA; this reads who it says it is."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        raise CertificateRefused("certificate names no identity") from None
    uris = [uri for uri in san.get_values_for_type(x509.UniformResourceIdentifier) if uri.startswith("spiffe://")]
    if len(uris) != 1:
        raise CertificateRefused("certificate must name exactly one spiffe identity")
    try:
        return WorkloadId.parse(uris[0])
    except ValueError as error:
        raise CertificateRefused(str(error)) from None
