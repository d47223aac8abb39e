"""Mutual TLS for peer links, with grpc's own TLS (BoringSSL); nothing here does cryptography itself.

- The server requires a client certificate that chains to the zone's CA (`require_client_auth`), and
  its credentials rotate on renewal (`dynamic_ssl_server_credentials`: grpc asks for the current
  certificate at each new handshake; links already up keep their session).
- A dialer presents its certificate and expects the dialed node's own DNS SAN
  (`grpc.ssl_target_name_override` = `WorkloadId.dns_name`), so it reaches exactly the node it meant.
- After the handshake, the acceptor reads the peer's certificate from the auth context and admits it
  only if it names this cluster, namespace and zone, over TLS 1.3 (grpc's Python API has no setting
  for a minimum TLS version; BoringSSL offers 1.2 and 1.3 and two nodes always agree on 1.3, so the
  acceptor refuses anything else).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import grpc

from autonomy.identity import CertificateRefused, NodeCredentials, WorkloadId, workload_of_certificate

TLS_VERSION = b"TLSv1.3"


class PlaintextForBenchmarks:
    """No TLS: for bench/transport_tls_bench.py, which measures what TLS costs against it. No setting or
    environment variable leads here; links without TLS carry no verified identity, so a node refuses to
    unpickle anything that arrives on one."""


class PeerRefused(Exception):
    """A peer that passed the TLS handshake but is not admitted; the message is for this node's log only."""


class LinkTls:
    """The node's current TLS material for links, swapped whenever its certificate is renewed."""

    def __init__(self, credentials: NodeCredentials | None = None) -> None:
        self._lock = threading.Lock()  # grpc calls the server's fetcher from its own threads
        self._credentials: NodeCredentials | None = None
        self._channel: grpc.ChannelCredentials | None = None
        self._server_update: object | None = None
        if credentials is not None:
            self.update(credentials)

    @property
    def credentials(self) -> NodeCredentials:
        if self._credentials is None:
            raise RuntimeError("LinkTls has no credentials yet")
        return self._credentials

    @property
    def workload(self) -> WorkloadId:
        return self.credentials.workload

    def update(self, credentials: NodeCredentials) -> None:
        """Use `credentials` for every link from now on (the renewal listener)."""
        channel = grpc.ssl_channel_credentials(root_certificates=credentials.trust_bundle_pem,
                                               private_key=credentials.key_pem,
                                               certificate_chain=credentials.certificate_pem)
        configuration = _server_configuration(credentials)
        with self._lock:
            self._credentials = credentials
            self._channel = channel
            self._server_update = configuration

    def server_credentials(self) -> grpc.ServerCredentials:
        with self._lock:
            initial = _server_configuration(self.credentials)
            self._server_update = None
        return grpc.dynamic_ssl_server_credentials(initial, self._fetch_server_configuration,
                                                   require_client_authentication=True)

    def _fetch_server_configuration(self) -> object | None:
        # None tells grpc to keep what it has: the SSL context is rebuilt only after a renewal.
        with self._lock:
            update, self._server_update = self._server_update, None
        return update

    def channel_credentials(self) -> grpc.ChannelCredentials:
        with self._lock:
            if self._channel is None:
                raise RuntimeError("LinkTls has no credentials yet")
            return self._channel

    def target_options(self, peer: str) -> list[tuple[str, str]]:
        """Channel options that make a dial succeed only if the server holds `peer`'s own certificate."""
        return [("grpc.ssl_target_name_override", self.workload.with_node(peer).dns_name)]

    def verify_peer(self, auth_context: Mapping[str, Sequence[bytes]]) -> WorkloadId:
        """The verified WorkloadId of a peer that completed the handshake, or PeerRefused."""
        if list(auth_context.get("transport_security_type", ())) != [b"ssl"]:
            raise PeerRefused("not a TLS connection")
        version = list(auth_context.get("ssl_tls_version", ()))
        if version != [TLS_VERSION]:
            raise PeerRefused(f"TLS version {clip(b''.join(version).decode(errors='replace'))} is not TLS 1.3")
        certificates = list(auth_context.get("x509_pem_cert", ()))
        if len(certificates) != 1:
            raise PeerRefused("no client certificate")
        try:
            origin = workload_of_certificate(certificates[0])
        except CertificateRefused:
            raise PeerRefused("its certificate names no node identity") from None
        if not origin.same_zone(self.workload):
            raise PeerRefused("its certificate is for another zone")
        if origin.node == self.workload.node:
            raise PeerRefused("its certificate names this node itself")
        return origin


def _server_configuration(credentials: NodeCredentials) -> object:
    return grpc.ssl_server_certificate_configuration(
        [(credentials.key_pem, credentials.certificate_pem)], root_certificates=credentials.trust_bundle_pem)


def clip(text: str, limit: int = 64) -> str:
    """Peer-supplied text for a log line: bounded and printable."""
    text = text if len(text) <= limit else text[:limit] + "..."
    return repr(text)
