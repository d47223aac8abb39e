"""Node certificates through the Kubernetes CSR API, against the real apiserver and controller-manager.

The operator runs as a local process with the chart's own ServiceAccount token (so only the chart's RBAC),
as the signer of `autonomy.computer/zone-node`. Nodes are played by `KubernetesCsrIssuer` with a token of
the zone's ServiceAccount bound to a pod (what a pod's projected token is); kwok makes the zones' pods
Running. The signer issues to a Running pod of the zone and refuses, with a reason, every other requester:
another ServiceAccount, a pod that is not the one named, not Running, not of the zone's Deployments
(finding 12: the zone label alone gets nothing), another zone, namespace or cluster, and extra names.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from autonomy.identity import (
    SIGNER_NAME,
    CertificateRefused,
    NodeCredentials,
    WorkloadId,
    make_csr,
    new_private_key,
    obtain_credentials,
)
from autonomy.identity.kubernetes_csr import CertificateIssuanceError, KubernetesCsrIssuer
from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import REPO, OperatorProcess, apply, get_json, wait_for

pytestmark = pytest.mark.control_plane
CHART = REPO / "charts" / "autonomy"
ZONE_LABEL = "autonomy.computer/zone"


@dataclass
class Signer:
    """The chart installed in `release_ns`, its operator running, zones alpha and beta in `ns_a` and alpha
    in `ns_b`, each with Running pods."""

    k8s: KubernetesCluster
    operator: OperatorProcess
    release: str
    release_ns: str
    ns_a: str
    ns_b: str
    cluster_id: str
    tmp: Path
    operator_env: dict[str, str]

    def pods(self, namespace: str, zone: str) -> list[dict[str, Any]]:
        listing = get_json(self.k8s, "pods", "-n", namespace, "-l", f"{ZONE_LABEL}={zone}") or {"items": []}
        return [p for p in listing["items"] if p.get("status", {}).get("phase") == "Running"]

    def workload(self, namespace: str, zone: str, node: str) -> WorkloadId:
        return WorkloadId(self.cluster_id, namespace, zone, node)

    def kubeconfig(self, namespace: str, account: str, pod: dict[str, Any] | None = None) -> Path:
        """A kubeconfig with a token of `account`, bound to `pod` when given (as a pod's own token is)."""
        bound = (
            ["--bound-object-kind=Pod", f"--bound-object-name={pod['metadata']['name']}",
             f"--bound-object-uid={pod['metadata']['uid']}"]
            if pod is not None else []
        )  # fmt: skip
        token = self.k8s.kubectl(
            "create", "token", account, "-n", namespace, "--duration=1h", *bound
        ).stdout.strip()
        view = json.loads(self.k8s.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        view["users"] = [{"name": "node", "user": {"token": token}}]
        view["contexts"][0]["context"]["user"] = "node"
        path = self.tmp / f"kubeconfig-{uuid.uuid4().hex[:8]}"
        path.write_text(yaml.safe_dump(view))
        return path

    def pod_kubeconfig(self, namespace: str, zone: str, pod: dict[str, Any]) -> Path:
        return self.kubeconfig(namespace, f"{zone}-node", pod)

    def ca_secret(self, namespace: str, zone: str) -> dict[str, Any] | None:
        name = f"zone-ca.{namespace}.{zone}"
        found: dict[str, Any] | None = get_json(self.k8s, "secret", name, "-n", self.release_ns)
        return found


def _issue(kubeconfig: Path, namespace: str, workload: WorkloadId, csr: bytes | None = None,
           lifetime: dt.timedelta = dt.timedelta(hours=1)) -> tuple[bytes, bytes]:  # fmt: skip
    issuer = KubernetesCsrIssuer(namespace, kubeconfig=kubeconfig, lifetime=lifetime, timeout=60)
    request = csr if csr is not None else make_csr(new_private_key(), workload, (workload.dns_name,))
    return asyncio.run(issuer.issue(request, workload))


def _obtain(kubeconfig: Path, workload: WorkloadId, lifetime: dt.timedelta = dt.timedelta(hours=1)) -> NodeCredentials:
    issuer = KubernetesCsrIssuer(workload.namespace, kubeconfig=kubeconfig, lifetime=lifetime, timeout=60)
    return asyncio.run(obtain_credentials(issuer, workload, (workload.dns_name,)))


def _refusal(signer: Signer, kubeconfig: Path, namespace: str, workload: WorkloadId,
             csr: bytes | None = None) -> tuple[str, str]:  # fmt: skip
    """The reason and message of the Denied condition the operator gave; also checks its Warning event."""
    with pytest.raises(CertificateRefused) as refused:
        _issue(kubeconfig, namespace, workload, csr)
    found = re.search(r"denied CertificateSigningRequest (\S+): (\w+): (.*)", str(refused.value))
    assert found, str(refused.value)
    name, reason, message = found.groups()
    csr_object = get_json(signer.k8s, "csr", name)
    assert csr_object["spec"]["signerName"] == SIGNER_NAME and "certificate" not in csr_object.get("status", {})
    (denied,) = [c for c in csr_object["status"]["conditions"] if c["type"] == "Denied"]
    assert denied["reason"] == reason
    wait_for(
        f"a Warning event {reason} on CSR {name}",
        lambda: [
            e
            for e in (get_json(signer.k8s, "events", "-A", "--field-selector", f"involvedObject.name={name}") or {})
            .get("items", [])
            if e["type"] == "Warning" and e["reason"] == reason
        ],
        timeout=30,
    )
    return reason, message


def _zone(name: str, clones: int) -> dict[str, Any]:
    pod = {"name": "main-pod", "clones": clones, "containers": [{"name": "main", "image": "main"}]}
    return {"name": name, "pods": [pod]}


def _namespace(k8s: KubernetesCluster, stem: str) -> str:
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("create", "namespace", name)
    wait_for(
        f"namespace {name}'s default ServiceAccount",
        lambda: k8s.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
    )
    return name


def _operator_for_the_chart(k8s: KubernetesCluster, release: str, namespace: str, tmp: Path,
                            watched: list[str]) -> tuple[OperatorProcess, dict[str, str]]:  # fmt: skip
    """The real operator in place of the chart's pod (kwok runs no containers): its ServiceAccount's token,
    its env (the CA namespace and the zone-node ClusterRole included)."""
    deployment = get_json(k8s, "deployment", f"{release}-autonomy", "-n", namespace)
    pod = deployment["spec"]["template"]["spec"]
    token = k8s.kubectl(
        "create", "token", pod["serviceAccountName"], "-n", namespace, "--duration=1h"
    ).stdout.strip()
    view = json.loads(k8s.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    view["users"] = [{"name": "operator", "user": {"token": token}}]
    view["contexts"][0]["context"]["user"] = "operator"
    kubeconfig = tmp / "operator-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(view))
    env = {
        e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e and not e["name"].endswith("_PORT")
    }
    assert env["AUTONOMY_OPERATOR_CA_NAMESPACE"] == namespace and env["AUTONOMY_OPERATOR_NODE_CERT_SECONDS"] == "3600"
    env.update(KUBECONFIG=str(kubeconfig), AUTONOMY_OPERATOR_NAMESPACES=",".join(watched))
    operator = OperatorProcess(k8s, tmp)
    operator.start(**env)
    return operator, env


@pytest.fixture(scope="module")
def signer(
    k8s: KubernetesCluster, operator_process: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Signer]:
    tmp = tmp_path_factory.mktemp("signer")
    release_ns, ns_a, ns_b = (_namespace(k8s, s) for s in ("csr-operator", "csr-a", "csr-b"))
    release = f"csr{uuid.uuid4().hex[:6]}"
    cluster = f"csr-{release}"
    k8s.helm("install", release, str(CHART), "-n", release_ns, "--wait=false", "--set", f"cluster.name={cluster}",
             "--set", "image.repository=autonomy/operator", "--set", "image.tag=test")  # fmt: skip
    operator_process.stop()  # one operator at a time
    operator, operator_env = _operator_for_the_chart(k8s, release, release_ns, tmp, [ns_a, ns_b])
    try:
        cluster_id = wait_for(
            "the chart's Cluster to get its id",
            lambda: ((get_json(k8s, "clusters.autonomy.computer", cluster) or {}).get("status", {}).get("clusterId")),
        )
        for namespace, zone, clones in ((ns_a, "alpha", 2), (ns_a, "beta", 1), (ns_b, "alpha", 1)):
            apply(k8s, parse_zone(_zone(zone, clones)).zone_manifest(namespace))
        signer = Signer(k8s, operator, release, release_ns, ns_a, ns_b, cluster_id, tmp, operator_env)
        for namespace, zone, clones in ((ns_a, "alpha", 2), (ns_a, "beta", 1), (ns_b, "alpha", 1)):
            wait_for(
                f"{clones} Running pods of zone {namespace}/{zone}",
                lambda n=namespace, z=zone, c=clones: len(signer.pods(n, z)) == c,
                timeout=120,
            )
        yield signer
    finally:
        operator.stop()
        for namespace in (ns_a, ns_b):
            k8s.kubectl("delete", "zones", "--all", "-n", namespace, "--wait=false", check=False)
        k8s.kubectl("delete", "clusterrolebindings", "-l", f"autonomy.computer/namespace in ({ns_a},{ns_b})",
                    check=False)  # fmt: skip
        k8s.helm("uninstall", release, "-n", release_ns, check=False)
        k8s.kubectl("delete", "clusters.autonomy.computer", cluster, "--ignore-not-found", check=False)
        for namespace in (release_ns, ns_a, ns_b):
            k8s.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        if "forbidden" in operator.logs().lower():
            print(operator.logs()[-5000:])
        operator_process.start()


# --- issuing ----------------------------------------------------------------------------------------------


def test_a_running_pod_of_the_zone_gets_a_certificate_of_its_zone_ca(signer: Signer) -> None:
    pod = signer.pods(signer.ns_a, "alpha")[0]
    workload = signer.workload(signer.ns_a, "alpha", pod["metadata"]["name"])
    credentials = _obtain(signer.pod_kubeconfig(signer.ns_a, "alpha", pod), workload)

    # The trust bundle the node got is the CA the operator keeps in its own namespace.
    secret = signer.ca_secret(signer.ns_a, "alpha")
    assert secret is not None and secret["type"] == "autonomy.computer/zone-ca" and secret["immutable"] is True
    ca_pem = base64.b64decode(secret["data"]["ca.crt"])
    assert credentials.trust_bundle_pem == ca_pem
    ca = x509.load_pem_x509_certificate(ca_pem)
    leaf = x509.load_pem_x509_certificate(credentials.certificate_pem)
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [workload.uri]
    assert san.get_values_for_type(x509.DNSName) == [workload.dns_name]
    assert credentials.workload == workload
    # Short-lived: the chart's hour (plus the minute of backdating for clock skew).
    assert dt.timedelta(minutes=59) <= leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(minutes=62)
    # Another zone's CA is another CA.
    other = signer.ca_secret(signer.ns_b, "alpha")
    assert other is not None and base64.b64decode(other["data"]["ca.crt"]) != ca_pem


def test_renewal_and_a_shorter_lifetime(signer: Signer) -> None:
    pod = signer.pods(signer.ns_a, "alpha")[1]
    workload = signer.workload(signer.ns_a, "alpha", pod["metadata"]["name"])
    kubeconfig = signer.pod_kubeconfig(signer.ns_a, "alpha", pod)
    first = _obtain(kubeconfig, workload)
    renewed = _obtain(kubeconfig, workload, lifetime=dt.timedelta(minutes=15))
    a, b = (x509.load_pem_x509_certificate(c.certificate_pem) for c in (first, renewed))
    assert a.serial_number != b.serial_number and a.issuer == b.issuer and first.key_pem != renewed.key_pem
    assert first.trust_bundle_pem == renewed.trust_bundle_pem
    assert b.not_valid_after_utc - b.not_valid_before_utc <= dt.timedelta(minutes=16)


def test_every_zone_gets_its_own_ca(signer: Signer) -> None:
    (pod,) = signer.pods(signer.ns_b, "alpha")
    workload = signer.workload(signer.ns_b, "alpha", pod["metadata"]["name"])
    credentials = _obtain(signer.pod_kubeconfig(signer.ns_b, "alpha", pod), workload)
    leaf = x509.load_pem_x509_certificate(credentials.certificate_pem)
    alpha_a = signer.ca_secret(signer.ns_a, "alpha")
    assert alpha_a is not None
    with pytest.raises(ValueError):
        leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(base64.b64decode(alpha_a["data"]["ca.crt"])))


# --- refusing ---------------------------------------------------------------------------------------------


def test_another_service_account_is_refused(signer: Signer) -> None:
    """beta's ServiceAccount may make CSRs, but not for alpha's names; `default` may make none at all."""
    alpha_pod = signer.pods(signer.ns_a, "alpha")[0]
    (beta_pod,) = signer.pods(signer.ns_a, "beta")
    alpha = signer.workload(signer.ns_a, "alpha", alpha_pod["metadata"]["name"])
    as_beta = signer.pod_kubeconfig(signer.ns_a, "beta", beta_pod)
    reason, message = _refusal(signer, as_beta, signer.ns_a, alpha)
    assert reason == "NotZoneServiceAccount"
    assert signer.cluster_id not in message and alpha.node not in message  # a stranger learns nothing
    # beta's own pod asking for its own name is fine.
    beta = signer.workload(signer.ns_a, "beta", beta_pod["metadata"]["name"])
    assert _obtain(as_beta, beta).workload == beta
    # Another zone of the same name in another namespace: its ServiceAccount is not this one.
    (b_pod,) = signer.pods(signer.ns_b, "alpha")
    as_b_alpha = signer.pod_kubeconfig(signer.ns_b, "alpha", b_pod)
    assert _refusal(signer, as_b_alpha, signer.ns_a, alpha.with_node(b_pod["metadata"]["name"]))[0] == (
        "NotZoneServiceAccount"
    )
    # The namespace's default ServiceAccount has no right to ask at all.
    with pytest.raises(CertificateIssuanceError, match="refused to create a CertificateSigningRequest"):
        _issue(signer.kubeconfig(signer.ns_a, "default"), signer.ns_a, alpha)


def test_a_pod_can_only_ask_for_its_own_name(signer: Signer) -> None:
    first, second = signer.pods(signer.ns_a, "alpha")
    kubeconfig = signer.pod_kubeconfig(signer.ns_a, "alpha", first)
    for node in (second["metadata"]["name"], "ghost"):  # another pod of the zone, a pod that does not exist
        reason, _ = _refusal(signer, kubeconfig, signer.ns_a, signer.workload(signer.ns_a, "alpha", node))
        assert reason == "NotFromThePod"
    # A token of the zone's ServiceAccount that is bound to no pod at all.
    unbound = signer.kubeconfig(signer.ns_a, "alpha-node")
    assert _refusal(signer, unbound, signer.ns_a, signer.workload(signer.ns_a, "alpha", "ghost"))[0] == "NotFromThePod"


def test_other_names_clusters_and_zones_are_refused(signer: Signer) -> None:
    pod = signer.pods(signer.ns_a, "alpha")[0]
    node = pod["metadata"]["name"]
    kubeconfig = signer.pod_kubeconfig(signer.ns_a, "alpha", pod)
    workload = signer.workload(signer.ns_a, "alpha", node)
    extra_name = make_csr(new_private_key(), workload, (workload.dns_name, "kubernetes.default.svc"))
    assert _refusal(signer, kubeconfig, signer.ns_a, workload, extra_name)[0] == "InvalidNames"
    other_cluster = WorkloadId("f" * 32, signer.ns_a, "alpha", node)
    reason, message = _refusal(signer, kubeconfig, signer.ns_a, other_cluster)
    assert reason == "WrongCluster" and signer.cluster_id not in message
    # alpha's pod, claiming to be of zone beta, or of the other namespace
    assert _refusal(signer, kubeconfig, signer.ns_a, signer.workload(signer.ns_a, "beta", node))[0] == (
        "NotZoneServiceAccount"
    )
    assert _refusal(signer, kubeconfig, signer.ns_b, signer.workload(signer.ns_b, "alpha", node))[0] == (
        "NotZoneServiceAccount"
    )


def _bare_pod(signer: Signer, name: str, *, account: str, schedulable: bool = True) -> dict[str, Any]:
    """A pod made directly (not by the zone's Deployments) carrying the zone's label."""
    spec: dict[str, Any] = {"serviceAccountName": account, "containers": [{"name": "main", "image": "main"}]}
    if not schedulable:
        spec["nodeSelector"] = {"autonomy.test/nowhere": "true"}
    metadata = {"name": name, "namespace": signer.ns_a, "labels": {ZONE_LABEL: "alpha"}}
    apply(signer.k8s, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
    phase = "Running" if schedulable else "Pending"

    def in_phase() -> dict[str, Any] | None:
        pod: dict[str, Any] | None = get_json(signer.k8s, "pod", name, "-n", signer.ns_a)
        return pod if pod is not None and pod.get("status", {}).get("phase") == phase else None

    found: dict[str, Any] = wait_for(f"pod {name} {phase}", in_phase)
    return found


def test_a_pod_with_the_zone_label_that_is_not_the_zones_gets_nothing(signer: Signer) -> None:
    """Finding 12: the zone's label, even with the zone's ServiceAccount, does not make a pod a node."""
    intruder = _bare_pod(signer, "intruder", account="alpha-node")
    workload = signer.workload(signer.ns_a, "alpha", "intruder")
    kubeconfig = signer.pod_kubeconfig(signer.ns_a, "alpha", intruder)
    reason, message = _refusal(signer, kubeconfig, signer.ns_a, workload)
    assert reason == "NotAZonePod" and "Deployments" in message
    # With the namespace's default ServiceAccount it cannot even ask.
    labelled = _bare_pod(signer, "labelled", account="default")
    with pytest.raises(CertificateIssuanceError, match="refused to create"):
        workload = signer.workload(signer.ns_a, "alpha", "labelled")
        _issue(signer.kubeconfig(signer.ns_a, "default", labelled), signer.ns_a, workload)


def test_a_pod_that_is_not_running_gets_nothing(signer: Signer) -> None:
    pending = _bare_pod(signer, "pending", account="alpha-node", schedulable=False)
    kubeconfig = signer.pod_kubeconfig(signer.ns_a, "alpha", pending)
    reason, message = _refusal(signer, kubeconfig, signer.ns_a, signer.workload(signer.ns_a, "alpha", "pending"))
    assert reason == "PodNotRunning" and "Pending" in message


# --- who can read and sign what ------------------------------------------------------------------------


def test_zone_nodes_cannot_read_the_ca_nor_approve(signer: Signer) -> None:
    k8s = signer.k8s
    secret = f"zone-ca.{signer.ns_a}.alpha"
    assert signer.ca_secret(signer.ns_a, "alpha") is not None
    account = f"system:serviceaccount:{signer.ns_a}:alpha-node"

    def can(*args: str) -> bool:
        return k8s.kubectl("auth", "can-i", *args, f"--as={account}", check=False).stdout.strip() == "yes"

    assert not can("get", f"secrets/{secret}", "-n", signer.release_ns)
    assert not can("list", "secrets", "-n", signer.release_ns)
    assert not can("get", "secrets", "-n", signer.ns_a)
    assert not can("update", "certificatesigningrequests/approval")
    assert not can("update", "certificatesigningrequests/status")
    assert not can("get", "configmaps/beta-ca", "-n", signer.ns_a)  # only its own zone's bundle
    assert can("get", "configmaps/alpha-ca", "-n", signer.ns_a) and can("create", "certificatesigningrequests")
    # And with a pod's real token, the apiserver says no.
    pod = signer.pods(signer.ns_a, "alpha")[0]
    as_pod = signer.pod_kubeconfig(signer.ns_a, "alpha", pod)
    denied = k8s.kubectl("--kubeconfig", str(as_pod), "get", "secret", secret, "-n", signer.release_ns, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    # The operator's own rights: approve and sign for this signer only (SubjectAccessReviews).
    operator = f"system:serviceaccount:{signer.release_ns}:{signer.release}-autonomy"
    for verb in ("approve", "sign"):
        assert _allowed(k8s, operator, verb, "signers", SIGNER_NAME)
        assert not _allowed(k8s, operator, verb, "signers", "kubernetes.io/kube-apiserver-client")
        assert not _allowed(k8s, operator, verb, "signers", "kubernetes.io/kubelet-serving")
        assert not _allowed(k8s, account, verb, "signers", SIGNER_NAME)


def _allowed(k8s: KubernetesCluster, user: str, verb: str, resource: str, name: str) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {"group": "certificates.k8s.io", "resource": resource, "verb": verb, "name": name},
        },
    }
    result = k8s.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review))
    return bool(json.loads(result.stdout)["status"].get("allowed"))


def _admin_csr(k8s: KubernetesCluster, signer_name: str, pem: bytes, usages: list[str]) -> str:
    name = f"admin-{uuid.uuid4().hex[:8]}"
    spec = {"request": base64.b64encode(pem).decode(), "signerName": signer_name, "usages": usages}
    apply(k8s, {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": name}, "spec": spec})  # fmt: skip
    return name


def test_an_approval_by_a_person_bypasses_nothing(signer: Signer) -> None:
    """A CSR made by an admin for a real pod's name, then approved by the admin: still no certificate."""
    pod = signer.pods(signer.ns_a, "alpha")[0]
    workload = signer.workload(signer.ns_a, "alpha", pod["metadata"]["name"])
    name = _admin_csr(signer.k8s, SIGNER_NAME, make_csr(new_private_key(), workload, (workload.dns_name,)),
                      ["digital signature", "client auth", "server auth"])  # fmt: skip
    signer.k8s.kubectl("certificate", "approve", name, check=False)  # refused if the operator denied it first
    final = wait_for(
        f"CSR {name} Denied or Failed",
        lambda: (c := get_json(signer.k8s, "csr", name))
        and {x["type"] for x in c["status"].get("conditions", [])} & {"Denied", "Failed"}
        and c,
    )
    assert "certificate" not in final["status"]
    assert {c["reason"] for c in final["status"]["conditions"] if c["type"] in ("Denied", "Failed")} == {
        "NotZoneServiceAccount"
    }


def test_the_controller_managers_signers_do_not_sign_ours(signer: Signer) -> None:
    """Approved CSRs of kubernetes.io/kube-apiserver-client get signed by the controller-manager; an
    approved CSR of our signer name that our operator leaves alone (a namespace it does not watch) never
    does. And the operator leaves CSRs of other signers alone."""
    k8s = signer.k8s
    key = new_private_key()
    client_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    theirs = _admin_csr(k8s, "kubernetes.io/kube-apiserver-client", client_csr, ["digital signature", "client auth"])
    unwatched = WorkloadId(signer.cluster_id, "not-watched", "alpha", "alpha-main-pod-x")
    ours = _admin_csr(k8s, SIGNER_NAME, make_csr(key, unwatched, (unwatched.dns_name,)),
                      ["digital signature", "client auth", "server auth"])  # fmt: skip
    k8s.kubectl("certificate", "approve", theirs, ours)
    wait_for(f"the controller-manager to sign {theirs}",
             lambda: (get_json(k8s, "csr", theirs) or {}).get("status", {}).get("certificate"), timeout=60)  # fmt: skip
    assert not {c["type"] for c in get_json(k8s, "csr", theirs)["status"]["conditions"]} & {"Denied", "Failed"}
    asyncio.run(asyncio.sleep(5))
    status = get_json(k8s, "csr", ours)["status"]
    assert "certificate" not in status
    assert [c["type"] for c in status["conditions"]] == ["Approved"]


# --- the CA goes with its zone ---------------------------------------------------------------------------


def test_deleting_the_zone_removes_its_ca(signer: Signer) -> None:
    k8s = signer.k8s
    binding = f"{signer.release}-autonomy-zone-node:{signer.ns_b}:alpha"
    old = wait_for("zone ns-b/alpha's CA", lambda: signer.ca_secret(signer.ns_b, "alpha"))
    assert get_json(k8s, "clusterrolebinding", binding)["subjects"] == [
        {"kind": "ServiceAccount", "name": "alpha-node", "namespace": signer.ns_b}
    ]
    k8s.kubectl("delete", "zone", "alpha", "-n", signer.ns_b)
    wait_for("the CA Secret to go", lambda: signer.ca_secret(signer.ns_b, "alpha") is None, timeout=60)
    wait_for("the CSR binding to go", lambda: get_json(k8s, "clusterrolebinding", binding) is None, timeout=60)
    # The other zones keep theirs.
    assert signer.ca_secret(signer.ns_a, "alpha") is not None
    # A zone made again under the same name gets a new CA: it never trusts its predecessor's nodes.
    apply(k8s, parse_zone(_zone("alpha", 1)).zone_manifest(signer.ns_b))
    new = wait_for("the new zone's CA", lambda: signer.ca_secret(signer.ns_b, "alpha"), timeout=60)
    assert new["data"]["ca.crt"] != old["data"]["ca.crt"]
    wait_for("the new zone's CSR binding", lambda: get_json(k8s, "clusterrolebinding", binding))
    assert "forbidden" not in signer.operator.logs().lower()


def test_a_zone_deleted_while_the_operator_was_down_loses_its_ca_when_it_is_back(signer: Signer) -> None:
    k8s = signer.k8s
    binding = f"{signer.release}-autonomy-zone-node:{signer.ns_a}:beta"
    wait_for("zone beta's CA", lambda: signer.ca_secret(signer.ns_a, "beta"))
    signer.operator.stop()
    try:
        k8s.kubectl("delete", "zone", "beta", "-n", signer.ns_a, "--wait=true", timeout=60)
        assert signer.ca_secret(signer.ns_a, "beta") is not None  # nobody was there to delete it
    finally:
        signer.operator.start(**signer.operator_env)
    wait_for("the stale CA Secret to be swept", lambda: signer.ca_secret(signer.ns_a, "beta") is None, timeout=60)
    wait_for("the stale CSR binding to be swept", lambda: get_json(k8s, "clusterrolebinding", binding) is None)
    assert signer.ca_secret(signer.ns_a, "alpha") is not None
    assert "forbidden" not in signer.operator.logs().lower()
