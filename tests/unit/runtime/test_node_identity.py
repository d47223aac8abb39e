"""Who a node is, which issuer signs for it, and what it accepts from peers: the pure parts of zone identity.

The auth contexts below are what gRPC hands the acceptor after a handshake, made from real certificates."""

from __future__ import annotations

import json
from pathlib import Path

import cloudpickle
import pytest

from autonomy import Node
from autonomy.actors import Context
from autonomy.errors import PeerRejected, WorkerError
from autonomy.identity import (
    LocalAuthorityIssuer,
    WorkloadId,
    ZoneAuthority,
    make_csr,
    new_private_key,
    obtain_credentials,
)
from autonomy.identity.dev_authority import create_dev_authority
from autonomy.node.controller import NodeController
from autonomy.node.identity import choose_issuer, node_workload
from autonomy.node.node import _RemoteReply
from autonomy.node.settings import NodeSettings
from autonomy.transport import LinkTls
from autonomy.transport.tls import PeerRefused

ME = WorkloadId("c1", "ns", "zone", "me")


def test_identity_from_settings_and_defaults_outside_a_cluster() -> None:
    s = NodeSettings(name="n-1", cluster="c1", namespace="ns", zone="zone")
    assert node_workload(s) == WorkloadId("c1", "ns", "zone", "n-1")
    assert node_workload(NodeSettings(name="Main_Node")) == WorkloadId("local", "local", "local", "Main_Node")
    with pytest.raises(ValueError, match=r"identity node 'has space'.*name the node with NODE"):
        node_workload(NodeSettings(name="has space"))
    with pytest.raises(ValueError, match="a node in a cluster needs CLUSTER, NAMESPACE in its environment"):
        node_workload(NodeSettings(name="n", zone="zone", discovery="kubernetes"))
    with pytest.raises(ValueError, match=r"identity zone 'Shop'.*\(from CLUSTER, NAMESPACE and ZONE\)"):
        node_workload(NodeSettings(name="n", zone="Shop"))


async def test_issuer_is_the_dev_ca_when_given_else_a_ca_of_this_node_alone(tmp_path: Path) -> None:
    authority = create_dev_authority(tmp_path / "ca", "c1", "ns", "zone")
    dev = choose_issuer(NodeSettings(name="me", dev_ca_dir=tmp_path / "ca"), ME)
    _, bundle = await dev.issue(make_csr(new_private_key(), ME, (ME.dns_name,)), ME)
    assert bundle == authority.certificate_pem()
    with pytest.raises(ValueError, match=r"is the CA of zone c1/ns/zone.*check CLUSTER"):
        choose_issuer(NodeSettings(dev_ca_dir=tmp_path / "ca"), WorkloadId("c1", "ns", "other", "x"))
    alone = choose_issuer(NodeSettings(name="me"), ME)
    assert (await alone.issue(make_csr(new_private_key(), ME), ME))[1] != authority.certificate_pem()
    assert choose_issuer(NodeSettings(name="me"), ME) is not alone  # a fresh CA per node: nobody else joins


def test_settings_read_the_dev_ca_and_lifetime_and_no_zone_token() -> None:
    s = NodeSettings.from_environment(env={"AUTONOMY_DEV_CA_DIR": "/run/ca", "AUTONOMY_DEV_CERT_LIFETIME": "3",
                                           "AUTONOMY_ZONE_TOKEN": "ignored"})
    assert s.dev_ca_dir == Path("/run/ca") and s.dev_cert_lifetime == 3.0
    assert not hasattr(s, "credentials")
    with pytest.raises(ValueError, match="AUTONOMY_DEV_CERT_LIFETIME=100000 must be between 1 and 86400 seconds"):
        NodeSettings.from_environment(env={"AUTONOMY_DEV_CERT_LIFETIME": "100000"})


def _auth_context(certificate_pem: bytes, version: bytes = b"TLSv1.3") -> dict[str, list[bytes]]:
    return {"transport_security_type": [b"ssl"], "ssl_tls_version": [version], "x509_pem_cert": [certificate_pem]}


async def test_acceptor_admits_only_tls_1_3_peers_of_its_zone_with_a_certificate() -> None:
    authority = ZoneAuthority.create("c1", "ns", "zone")
    issuer = LocalAuthorityIssuer(authority)
    tls = LinkTls(await obtain_credentials(issuer, ME, (ME.dns_name,)))
    peer = ME.with_node("peer")
    peer_pem, _ = await issuer.issue(make_csr(new_private_key(), peer, (peer.dns_name,)), peer)
    assert tls.verify_peer(_auth_context(peer_pem)) == peer
    assert tls.target_options("peer") == [("grpc.ssl_target_name_override", peer.dns_name)]
    skewed = ZoneAuthority(authority.key, authority.certificate, "c1", "ns", "other")
    stranger = WorkloadId("c1", "ns", "other", "peer")
    stranger_pem = skewed.issue(make_csr(new_private_key(), stranger), stranger)
    mine_pem = authority.issue(make_csr(new_private_key(), ME), ME)
    for context, why in [
        (_auth_context(peer_pem, b"TLSv1.2"), "TLS version 'TLSv1.2' is not TLS 1.3"),
        ({**_auth_context(peer_pem), "x509_pem_cert": []}, "no client certificate"),
        ({**_auth_context(peer_pem), "transport_security_type": [b"insecure"]}, "not a TLS connection"),
        (_auth_context(stranger_pem), "its certificate is for another zone"),
        (_auth_context(mine_pem), "its certificate names this node itself"),
    ]:
        with pytest.raises(PeerRefused, match=why):
            tls.verify_peer(context)


async def test_controller_unpickles_only_from_this_process_or_an_authenticated_peer(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    class Writes:
        def __reduce__(self):  # unpickling writes the marker
            return (Path.write_text, (marker, "ran"))

    request = json.dumps({"op": "start_worker", "name": "w"})
    blob = cloudpickle.dumps(Writes())
    async with Node.serve(name="me", cluster="c1", namespace="ns", zone="zone", discovery="none",
                          transport_port=0, transport_host="127.0.0.1", http_server=False) as node:
        controller = NodeController(node)
        refused = [
            None,  # fire and forget: nobody to answer, and no link it came by
            _RemoteReply(node, "peer", "mbox", 1, origin=None),  # a link without TLS
            _RemoteReply(node, "peer", "mbox", 1, origin=WorkloadId("c1", "ns", "other", "peer")),
            _RemoteReply(node, "peer", "mbox", 1, origin=ME.with_node("someone-else")),
        ]
        for target in refused:
            with pytest.raises(PeerRejected, match="workers come only from authenticated nodes of this zone"):
                await controller._op_start_worker(json.loads(request), Context("_node_controller", target, blob))
            assert not marker.exists()
        # A peer of the zone, and this process itself, get through (the "worker" is then no worker at all).
        peer = _RemoteReply(node, "peer", "mbox", 1, origin=ME.with_node("peer"))
        with pytest.raises(WorkerError):
            await controller._op_start_worker(json.loads(request), Context("_node_controller", peer, blob))
        assert marker.exists()
        marker.unlink()
        local = await node.create_mailbox()
        with pytest.raises(WorkerError):
            await controller._op_start_worker(json.loads(request), Context("_node_controller", local, blob))
        assert marker.exists()
