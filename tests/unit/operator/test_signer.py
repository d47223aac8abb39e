"""The signer's checks that need no API: a CSR that is malformed, from another requester, from a token not
bound to the pod, for another cluster or for more names than its own is refused before anything is read;
CSRs of other signers and unwatched namespaces are left alone. (Against the real apiserver, with pods and
zones: tests/control_plane/test_node_certificates.py.)"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from autonomy.identity import SIGNER_NAME, WorkloadId, make_csr, new_private_key
from autonomy_operator.builders.rbac import node_csr_binding
from autonomy_operator.config import OperatorConfig
from autonomy_operator.kube import Kube
from autonomy_operator.signer import (
    POD_NAME_EXTRA,
    POD_UID_EXTRA,
    NotOurs,
    Refusal,
    RetryLater,
    is_finished,
    review,
)

CLUSTER = "0123456789abcdef0123456789abcdef"
NODE = WorkloadId(CLUSTER, "team-a", "shop", "shop-main-pod-5d8f9-x2x7q")
#: review must refuse these before it reads anything: no API client at all.
NO_API = cast(Kube, None)


def csr_object(request: bytes | None = None, **spec: Any) -> dict[str, Any]:
    pem = request if request is not None else make_csr(new_private_key(), NODE, (NODE.dns_name,))
    return {
        "metadata": {"name": "shop-main-pod-abcde"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": SIGNER_NAME,
            "usages": ["digital signature", "client auth", "server auth"],
            "username": "system:serviceaccount:team-a:shop-node",
            "extra": {POD_NAME_EXTRA: [NODE.node], POD_UID_EXTRA: ["pod-uid-1"]},
            **spec,
        },
    }


async def refusal_of(csr: dict[str, Any], cluster_id: str | None = CLUSTER) -> Refusal:
    with pytest.raises(Refusal) as refused:
        await review(NO_API, csr, cluster_id, dt.timedelta(hours=1))
    return refused.value


def csr_with_uris(*uris: str) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "n")])
    )
    if uris:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]), critical=False
        )
    return builder.sign(new_private_key(), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


async def test_malformed_requests_are_refused() -> None:
    assert (await refusal_of(csr_object(b"not a csr"))).reason == "InvalidRequest"
    bad = csr_object()
    bad["spec"]["request"] = "***"
    assert (await refusal_of(bad)).reason == "InvalidRequest"
    assert (await refusal_of(csr_object(csr_with_uris()))).reason == "InvalidIdentity"
    two = csr_with_uris(NODE.uri, NODE.with_node("other").uri)
    assert (await refusal_of(csr_object(two))).reason == "InvalidIdentity"
    assert (await refusal_of(csr_object(csr_with_uris("spiffe://x/not/ours")))).reason == "InvalidIdentity"


async def test_only_the_zones_service_account_may_ask() -> None:
    for username in (
        "system:serviceaccount:team-a:default",
        "system:serviceaccount:team-b:shop-node",
        "system:serviceaccount:team-a:other-node",
        "kubernetes-admin",
        None,
    ):
        refusal = await refusal_of(csr_object(username=username))
        assert refusal.reason == "NotZoneServiceAccount"
        # Nothing about the zone, its pods or the cluster in the answer to a stranger.
        assert CLUSTER not in refusal.message and NODE.node not in refusal.message


async def test_the_token_must_be_bound_to_the_pod_named() -> None:
    for extra in ({}, {POD_NAME_EXTRA: ["shop-main-pod-other"], POD_UID_EXTRA: ["u"]}, {POD_NAME_EXTRA: [NODE.node]}):
        assert (await refusal_of(csr_object(extra=extra))).reason == "NotFromThePod"


async def test_other_clusters_names_and_usages_are_refused() -> None:
    refusal = await refusal_of(csr_object(), cluster_id="f" * 32)
    assert refusal.reason == "WrongCluster" and "f" * 32 not in refusal.message and CLUSTER not in refusal.message
    extra_name = make_csr(new_private_key(), NODE, (NODE.dns_name, "evil.example.com"))
    assert (await refusal_of(csr_object(extra_name))).reason == "InvalidNames"
    no_dns = make_csr(new_private_key(), NODE)
    assert (await refusal_of(csr_object(no_dns))).reason == "InvalidNames"
    assert (await refusal_of(csr_object(usages=["cert sign", "client auth"]))).reason == "InvalidUsages"
    assert (await refusal_of(csr_object(usages=[]))).reason == "InvalidUsages"


async def test_not_ours_and_not_yet() -> None:
    with pytest.raises(NotOurs):
        other_signer = csr_object(signerName="kubernetes.io/kube-apiserver-client")
        await review(NO_API, other_signer, CLUSTER, dt.timedelta(hours=1))
    with pytest.raises(NotOurs):
        await review(NO_API, csr_object(), CLUSTER, dt.timedelta(hours=1), namespaces=("team-b",))
    with pytest.raises(RetryLater):
        await review(NO_API, csr_object(), None, dt.timedelta(hours=1))


def test_finished_csrs_are_left_alone() -> None:
    assert not is_finished({"status": {}})
    assert not is_finished({"status": {"conditions": [{"type": "Approved", "status": "True"}]}})
    assert is_finished({"status": {"conditions": [{"type": "Denied", "status": "True"}]}})
    assert is_finished({"status": {"conditions": [{"type": "Failed", "status": "True"}]}})
    assert is_finished({"status": {"certificate": "eA=="}})


def test_the_csr_binding_names_the_zones_account_only() -> None:
    binding = node_csr_binding("autonomy-zone-node", "team-a", "shop")
    assert binding["metadata"]["name"] == "autonomy-zone-node:team-a:shop"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "autonomy-zone-node",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "shop-node", "namespace": "team-a"}]
    assert "ownerReferences" not in binding["metadata"]  # cluster-scoped: the operator deletes it itself


def test_signer_settings(tmp_path: Path) -> None:
    nowhere = tmp_path / "absent"
    off = OperatorConfig.from_env({}, pod_namespace_file=nowhere)
    assert not off.signer_enabled and off.node_cert_seconds == 3600 and off.node_csr_clusterrole == ""
    pod_file = tmp_path / "namespace"
    pod_file.write_text("autonomy-system\n")
    in_pod = OperatorConfig.from_env({}, pod_namespace_file=pod_file)
    assert in_pod.signer_enabled and in_pod.ca_namespace == "autonomy-system"
    explicit = OperatorConfig.from_env(
        {"AUTONOMY_OPERATOR_CA_NAMESPACE": "ops", "AUTONOMY_OPERATOR_NODE_CERT_SECONDS": "900"},
        pod_namespace_file=pod_file,
    )
    assert explicit.ca_namespace == "ops" and explicit.node_cert_seconds == 900
    for bad in ("599", "86401", "1h", "-5"):
        with pytest.raises(ValueError, match="AUTONOMY_OPERATOR_NODE_CERT_SECONDS"):
            OperatorConfig.from_env({"AUTONOMY_OPERATOR_NODE_CERT_SECONDS": bad}, pod_namespace_file=nowhere)
