"""The signer of node certificates: CertificateSigningRequests of signer `autonomy.computer/zone-node`.

A node asks for a certificate of its zone's CA for the identity
`spiffe://<clusterId>/ns/<namespace>/zone/<zone>/node/<pod>` (DNS name `WorkloadId.dns_name`). The
operator approves and signs only when all of this holds, checked in this order (so that a refusal tells a
requester nothing about a zone it is not part of):

1. the request is a well-formed P-256 CSR naming exactly one such identity, of this cluster's id;
2. the requester (`spec.username`, set by the apiserver) is that zone's ServiceAccount
   `system:serviceaccount:<namespace>:<zone>-node`;
3. it authenticated with a token bound to that very pod (`spec.extra` pod-name and pod-uid, also set by
   the apiserver: a pod's projected ServiceAccount token), so a pod cannot ask for another pod's name;
4. it asks for nothing else: exactly the identity's URI and DNS name, usages for TLS client and server;
5. the Zone exists, and the ServiceAccount is the Zone's own (owned by it);
6. the pod exists with that uid, is Running, carries the zone's label, runs as the zone's ServiceAccount,
   and is a pod of the zone's Deployments (ReplicaSet -> Deployment -> Zone, by controller references
   and uids): a pod of the namespace that merely carries the zone label gets nothing.

Otherwise the CSR is Denied (or marked Failed, if someone else approved it: an approval by a person does
not bypass these checks) with a reason, and a Warning event is posted. The certificate lives
`AUTONOMY_OPERATOR_NODE_CERT_SECONDS` (1 h by default), or less when the CSR's expirationSeconds asks for
less, and never beyond the CA's own validity. The kube-controller-manager's signers sign `kubernetes.io/*`
signer names only, so nothing but this operator ever signs these.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from autonomy.identity import SIGNER_NAME, CertificateRefused, WorkloadId
from autonomy.identity.authority import MAX_CSR_BYTES
from autonomy_operator.builders import ZONE_LABEL, node_account_name
from autonomy_operator.kube import Kube, NotFound
from autonomy_operator.zone_identity import ForeignObject, ZoneIdentity, ZoneIdentityStore

__all__ = [
    "ALLOWED_USAGES",
    "Approval",
    "CsrSigner",
    "NotOurs",
    "Refusal",
    "RetryLater",
    "is_finished",
    "review",
]

log = logging.getLogger("autonomy_operator.signer")

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"
POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid"
#: What a node certificate may be asked for (it always gets TLS client and server auth, nothing else).
ALLOWED_USAGES = frozenset({"digital signature", "key encipherment", "client auth", "server auth"})
APPROVED_REASON = "AutonomyZoneNode"


class Refusal(Exception):
    """The CSR does not get a certificate: `reason` (CamelCase) and a message for the requester."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotOurs(Exception):
    """Not this operator's to decide (another signer name, a namespace it does not watch)."""


class RetryLater(Exception):
    """Nothing can be decided yet (the Cluster has no id yet)."""


@dataclass(frozen=True)
class Approval:
    """What review decided to sign: a certificate for `workload`, living `lifetime`."""

    workload: WorkloadId
    csr_pem: bytes
    zone_uid: str
    lifetime: dt.timedelta


def _conditions(csr: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        c.get("type", ""): c
        for c in (csr.get("status") or {}).get("conditions") or []
        if c.get("status", "True") == "True"
    }


def is_finished(csr: Mapping[str, Any]) -> bool:
    """Denied, Failed, or issued: nothing left to do."""
    conditions = _conditions(csr)
    return "Denied" in conditions or "Failed" in conditions or bool((csr.get("status") or {}).get("certificate"))


def _requested(spec: Mapping[str, Any]) -> tuple[bytes, x509.CertificateSigningRequest]:
    raw = spec.get("request")
    if not isinstance(raw, str) or len(raw) > 2 * MAX_CSR_BYTES:
        raise Refusal("InvalidRequest", "spec.request is missing or too large")
    try:
        pem = base64.b64decode(raw, validate=True)
        return pem, x509.load_pem_x509_csr(pem)
    except (binascii.Error, ValueError):
        raise Refusal("InvalidRequest", "spec.request is not a PEM certificate signing request") from None


def _identity(csr: x509.CertificateSigningRequest) -> tuple[WorkloadId, list[str], int]:
    """The one identity the CSR asks for, its DNS names and how many names it asks for in all."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        san = None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san is not None else []
    if len(uris) != 1:
        raise Refusal(
            "InvalidIdentity",
            "the CSR must name exactly one identity spiffe://<clusterId>/ns/<namespace>/zone/<zone>/node/<pod>",
        )
    try:
        workload = WorkloadId.parse(uris[0])
    except ValueError as error:
        raise Refusal("InvalidIdentity", f"the CSR's identity is not a zone node's: {error}") from None
    assert san is not None
    return workload, san.get_values_for_type(x509.DNSName), len(san)


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)


async def _replica_set(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return await kube._call("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}")
    except NotFound:
        return None


async def _pod(kube: Kube, workload: WorkloadId) -> dict[str, Any] | None:
    try:
        return await kube._call("GET", f"/api/v1/namespaces/{workload.namespace}/pods/{workload.node}")
    except NotFound:
        return None


async def _is_zone_pod(kube: Kube, pod: Mapping[str, Any], zone_uid: str) -> bool:
    """The pod's controller chain: a ReplicaSet, of a Deployment, of the Zone (uids checked each step)."""
    namespace = pod["metadata"]["namespace"]
    owner = _controller(pod["metadata"])
    if owner is None or (owner.get("apiVersion"), owner.get("kind")) != ("apps/v1", "ReplicaSet"):
        return False
    replica_set = await _replica_set(kube, namespace, owner["name"])
    if replica_set is None or replica_set["metadata"].get("uid") != owner.get("uid"):
        return False
    owner = _controller(replica_set["metadata"])
    if owner is None or (owner.get("apiVersion"), owner.get("kind")) != ("apps/v1", "Deployment"):
        return False
    deployment = await kube.get("apps/v1", "Deployment", namespace, owner["name"])
    if deployment is None or deployment["metadata"].get("uid") != owner.get("uid"):
        return False
    owner = _controller(deployment["metadata"])
    return (
        owner is not None
        and owner.get("kind") == "Zone"
        and owner.get("apiVersion", "").startswith("autonomy.computer/")
        and owner.get("uid") == zone_uid
    )


async def review(
    kube: Kube,
    csr: Mapping[str, Any],
    cluster_id: str | None,
    max_lifetime: dt.timedelta,
    namespaces: tuple[str, ...] = (),
) -> Approval:
    """Decide on one CSR: an Approval, or Refusal with the reason; NotOurs / RetryLater to leave it."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != SIGNER_NAME:
        raise NotOurs("another signer's CSR")
    pem, request = _requested(spec)
    workload, dns_names, name_count = _identity(request)
    if namespaces and workload.namespace not in namespaces:
        raise NotOurs(f"namespace {workload.namespace} is not watched by this operator")
    account = node_account_name(workload.zone)
    if spec.get("username") != f"system:serviceaccount:{workload.namespace}:{account}":
        raise Refusal("NotZoneServiceAccount", "the requester is not the ServiceAccount of the zone the CSR names")
    if cluster_id is None:
        raise RetryLater("the Cluster has no id yet")
    if workload.cluster != cluster_id:
        raise Refusal("WrongCluster", "the CSR's identity names another cluster")
    extra = spec.get("extra") or {}
    pod_uids = extra.get(POD_UID_EXTRA) or []
    if extra.get(POD_NAME_EXTRA) != [workload.node] or len(pod_uids) != 1:
        raise Refusal(
            "NotFromThePod",
            f"the CSR was not made with a token bound to pod {workload.node} (use the pod's own ServiceAccount token)",
        )
    usages = set(spec.get("usages") or [])
    if not usages or not usages <= ALLOWED_USAGES:
        raise Refusal("InvalidUsages", f"usages must be among {', '.join(sorted(ALLOWED_USAGES))}")
    if dns_names != [workload.dns_name] or name_count != 2:
        raise Refusal(
            "InvalidNames",
            f"the CSR must ask for exactly {workload.uri} and DNS name {workload.dns_name}, and nothing else",
        )
    zone = await kube.get("autonomy.computer/v1alpha1", "Zone", workload.namespace, workload.zone)
    if zone is None or zone["metadata"].get("deletionTimestamp"):
        raise Refusal("UnknownZone", f"zone {workload.zone} does not exist in namespace {workload.namespace}")
    zone_uid = zone["metadata"]["uid"]
    service_account = await kube.get("v1", "ServiceAccount", workload.namespace, account)
    if service_account is None or zone_uid not in [
        r.get("uid") for r in service_account["metadata"].get("ownerReferences") or []
    ]:
        raise Refusal("ForeignServiceAccount", f"ServiceAccount {account} is not the zone's own")
    pod = await _pod(kube, workload)
    if pod is None or pod["metadata"].get("uid") != pod_uids[0]:
        raise Refusal("UnknownPod", f"pod {workload.node} does not exist in namespace {workload.namespace}")
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise Refusal("PodNotRunning", f"pod {workload.node} is {phase or 'not started'}, not Running")
    if (pod["metadata"].get("labels") or {}).get(ZONE_LABEL) != workload.zone or (
        (pod.get("spec") or {}).get("serviceAccountName") != account
    ):
        raise Refusal("NotAZonePod", f"pod {workload.node} is not a pod of zone {workload.zone}")
    if not await _is_zone_pod(kube, pod, zone_uid):
        raise Refusal("NotAZonePod", f"pod {workload.node} is not a pod of zone {workload.zone}'s Deployments")
    lifetime = max_lifetime
    asked = spec.get("expirationSeconds")
    if isinstance(asked, int) and 0 < asked < lifetime.total_seconds():
        lifetime = dt.timedelta(seconds=asked)
    return Approval(workload, pem, zone_uid, lifetime)


def _condition(kind: str, reason: str, message: str) -> dict[str, str]:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message[:1000],
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
    }


def _with_condition(csr: Mapping[str, Any], condition: dict[str, str]) -> dict[str, Any]:
    body = {**csr, "status": dict(csr.get("status") or {})}
    body["status"]["conditions"] = [*body["status"].get("conditions", []), condition]
    return body


class CsrSigner:
    """Handles this signer's CSRs: review, then approve and sign, or deny; one CSR at a time per name."""

    def __init__(
        self,
        kube: Kube,
        store: ZoneIdentityStore,
        lifetime: dt.timedelta,
        namespaces: tuple[str, ...] = (),
    ) -> None:
        self.kube = kube
        self.store = store
        self.lifetime = lifetime
        self.namespaces = namespaces
        self._locks: dict[str, asyncio.Lock] = {}

    async def handle(self, name: str, cluster_id: str | None) -> Refusal | WorkloadId | None:
        """Decide on CSR `name` if it is still open: the WorkloadId certified, the Refusal recorded, or
        None (nothing to do). API errors propagate (the caller retries)."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                return await self._handle(name, cluster_id)
        finally:
            if not lock.locked():
                self._locks.pop(name, None)

    async def _handle(self, name: str, cluster_id: str | None) -> Refusal | WorkloadId | None:
        try:
            csr = await self.kube._call("GET", f"{CSR_PATH}/{name}")
        except NotFound:
            return None
        if is_finished(csr):
            return None
        approved = "Approved" in _conditions(csr)
        try:
            approval = await review(self.kube, csr, cluster_id, self.lifetime, self.namespaces)
            identity = ZoneIdentity(
                approval.workload.namespace, approval.workload.zone, approval.zone_uid, approval.workload.cluster
            )
            try:
                authority = await self.store.authority(identity)
            except ForeignObject as error:
                log.warning("zone %s/%s: %s", identity.namespace, identity.zone, error)
                raise Refusal("ZoneNotReady", str(error)) from None
            try:
                certificate = authority.issue(
                    approval.csr_pem, approval.workload, approval.lifetime, (approval.workload.dns_name,)
                )
            except CertificateRefused as error:
                raise Refusal("InvalidRequest", str(error)) from None
        except (NotOurs, RetryLater):
            return None
        except Refusal as refusal:
            kind = "Failed" if approved else "Denied"
            subresource = "status" if approved else "approval"
            condition = _condition(kind, refusal.reason, refusal.message)
            await self.kube._call("PUT", f"{CSR_PATH}/{name}/{subresource}", _with_condition(csr, condition))
            log.info("CSR %s %s: %s: %s", name, kind.lower(), refusal.reason, refusal.message)
            return refusal
        if not approved:
            csr = await self.kube._call(
                "PUT",
                f"{CSR_PATH}/{name}/approval",
                _with_condition(
                    csr, _condition("Approved", APPROVED_REASON, f"a Running pod of zone {approval.workload.zone}")
                ),
            )
        signed = {**csr, "status": {**(csr.get("status") or {}), "certificate": base64.b64encode(certificate).decode()}}
        await self.kube._call("PUT", f"{CSR_PATH}/{name}/status", signed)
        log.info("CSR %s signed for %s (%d s)", name, approval.workload.uri, approval.lifetime.total_seconds())
        return approval.workload
