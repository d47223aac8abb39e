"""Each zone's certificate authority, its trust bundle and its nodes' right to ask for certificates.

    CA          a Secret `zone-ca.<namespace>.<zone>` in the operator's own namespace (type
                `autonomy.computer/zone-ca`, immutable), made on first need: zone pods cannot read it (their
                ServiceAccount has no Secret rights, and the Secret is not in their namespace)
    bundle      the ConfigMap `<zone>-ca` in the zone's namespace, owned by the Zone: the CA's certificate,
                which the zone's ServiceAccount may read (nothing secret)
    CSR rights  a ClusterRoleBinding of the chart's node-CSR ClusterRole to the zone's ServiceAccount

Owner references cannot point across namespaces, nor from a cluster-scoped object to a namespaced
one, so the CA Secret and the ClusterRoleBinding carry the zone's namespace, name (labels) and uid
(annotation): `forget` deletes them when the Zone goes, and `sweep` deletes any left behind by a
deletion the operator did not see (it was down). A Secret of another Zone uid (a zone deleted and made
again under the same name) is replaced, never reused: a new zone never trusts its predecessor's nodes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from autonomy.identity import ZoneAuthority
from autonomy.identity.kubernetes_csr import TRUST_BUNDLE_KEY, trust_bundle_name
from autonomy_operator.builders import FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, ZONE_LABEL
from autonomy_operator.builders.rbac import ZONE_NAMESPACE_LABEL, node_csr_binding, node_csr_binding_name
from autonomy_operator.kube import Conflict, Kube, NotFound

__all__ = ["CA_SECRET_TYPE", "ForeignObject", "ZoneIdentity", "ZoneIdentityStore", "ca_secret_name"]

log = logging.getLogger("autonomy_operator.zone_identity")

CA_SECRET_TYPE = "autonomy.computer/zone-ca"
ZONE_UID_ANNOTATION = "autonomy.computer/zone-uid"
_ZONE_VERSION = "autonomy.computer/v1alpha1"
_ZONE_API = f"/apis/{_ZONE_VERSION}"
_BINDINGS = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY},{ZONE_NAMESPACE_LABEL},{ZONE_LABEL}"


class ForeignObject(Exception):
    """An object the zone needs exists under its name but is not the zone's: it is left alone."""


@dataclass(frozen=True)
class ZoneIdentity:
    """The zone a CA belongs to: a Zone of that uid, in a cluster of that id."""

    namespace: str
    zone: str
    uid: str
    cluster_id: str


def ca_secret_name(namespace: str, zone: str) -> str:
    """Unique per zone (namespaces and zone names have no '.')."""
    return f"zone-ca.{namespace}.{zone}"


def _labels(namespace: str, zone: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY, ZONE_LABEL: zone, ZONE_NAMESPACE_LABEL: namespace}


class ZoneIdentityStore:
    """Reads and writes the zones' CAs (in `ca_namespace`), bundles and CSR bindings."""

    def __init__(self, kube: Kube, ca_namespace: str, csr_cluster_role: str = "") -> None:
        self.kube = kube
        self.ca_namespace = ca_namespace
        self.csr_cluster_role = csr_cluster_role
        #: (namespace, zone) -> uid of the CA Secret whose trust bundle this process wrote.
        self._bundles: dict[tuple[str, str], str] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _secret_path(self, namespace: str | None = None, zone: str | None = None) -> str:
        base = f"/api/v1/namespaces/{self.ca_namespace}/secrets"
        return base if namespace is None or zone is None else f"{base}/{ca_secret_name(namespace, zone)}"

    # --- the CA -----------------------------------------------------------------------------------

    async def authority(self, identity: ZoneIdentity) -> ZoneAuthority:
        """The zone's CA, read from its Secret every time (so a deleted or replaced CA is never used from
        memory), made on first need; its trust bundle is written whenever this process has not written
        that very CA's bundle yet."""
        lock = self._locks.setdefault((identity.namespace, identity.zone), asyncio.Lock())
        async with lock:
            authority, secret_uid = await self._load_or_create(identity)
            if self._bundles.get((identity.namespace, identity.zone)) != secret_uid:
                await self._write_bundle(identity, authority)
                self._bundles[(identity.namespace, identity.zone)] = secret_uid
            return authority

    async def _load_or_create(self, identity: ZoneIdentity) -> tuple[ZoneAuthority, str]:
        name = ca_secret_name(identity.namespace, identity.zone)
        for _ in range(3):
            secret = await self.kube.get("v1", "Secret", self.ca_namespace, name)
            if secret is not None:
                authority = self._of_secret(secret, identity)
                if authority is not None:
                    return authority, secret["metadata"]["uid"]
                # Another zone's of the same name (deleted while we were away), or not ours at all.
                if (secret.get("metadata", {}).get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
                    raise ForeignObject(f"Secret {self.ca_namespace}/{name} exists and is not the operator's")
                log.info("replacing the stale CA of zone %s/%s", identity.namespace, identity.zone)
                await self._delete_secret(secret)
            created = ZoneAuthority.create(identity.cluster_id, identity.namespace, identity.zone)
            try:
                made = await self.kube._call("POST", self._secret_path(), self._secret_body(identity, created))
            except Conflict:
                continue  # made at the same moment (or not yet gone): read it again
            log.info("made the CA of zone %s/%s", identity.namespace, identity.zone)
            return created, made["metadata"]["uid"]
        raise Conflict(f"could not settle the CA Secret of zone {identity.namespace}/{identity.zone}", 409)

    def _secret_body(self, identity: ZoneIdentity, authority: ZoneAuthority) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": CA_SECRET_TYPE,
            "immutable": True,
            "metadata": {
                "name": ca_secret_name(identity.namespace, identity.zone),
                "namespace": self.ca_namespace,
                "labels": _labels(identity.namespace, identity.zone),
                "annotations": {ZONE_UID_ANNOTATION: identity.uid},
            },
            "data": {
                "ca.crt": base64.b64encode(authority.certificate_pem()).decode(),
                "ca.key": base64.b64encode(authority.key_pem()).decode(),
            },
        }

    @staticmethod
    def _of_secret(secret: dict[str, Any], identity: ZoneIdentity) -> ZoneAuthority | None:
        meta = secret.get("metadata") or {}
        if (
            secret.get("type") != CA_SECRET_TYPE
            or (meta.get("annotations") or {}).get(ZONE_UID_ANNOTATION) != identity.uid
            or (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY
        ):
            return None
        data = secret.get("data") or {}
        try:
            authority = ZoneAuthority.from_pem(base64.b64decode(data["ca.key"]), base64.b64decode(data["ca.crt"]))
        except (KeyError, ValueError):
            log.warning("the CA Secret of zone %s/%s is unreadable; replacing it", identity.namespace, identity.zone)
            return None
        if (authority.cluster, authority.namespace, authority.zone) != (
            identity.cluster_id,
            identity.namespace,
            identity.zone,
        ):
            return None
        return authority

    async def _apply(self, path: str, manifest: dict[str, Any]) -> None:
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        await self.kube._call("PATCH", path, manifest, query, "application/apply-patch+yaml")

    # --- the trust bundle ---------------------------------------------------------------------------

    async def _write_bundle(self, identity: ZoneIdentity, authority: ZoneAuthority) -> None:
        name = trust_bundle_name(identity.zone)
        path = f"/api/v1/namespaces/{identity.namespace}/configmaps/{name}"
        try:
            live: dict[str, Any] | None = await self.kube._call("GET", path)
        except NotFound:
            live = None
        if live is not None:
            owners = [r.get("uid") for r in live.get("metadata", {}).get("ownerReferences") or []]
            if identity.uid not in owners:
                raise ForeignObject(f"ConfigMap {identity.namespace}/{name} exists and does not belong to the zone")
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": identity.namespace,
                "labels": _labels(identity.namespace, identity.zone),
                "ownerReferences": [
                    {
                        "apiVersion": "autonomy.computer/v1alpha1",
                        "kind": "Zone",
                        "name": identity.zone,
                        "uid": identity.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "data": {TRUST_BUNDLE_KEY: authority.certificate_pem().decode()},
        }
        await self._apply(path, manifest)

    # --- the nodes' CSR rights ----------------------------------------------------------------------

    async def ensure_csr_binding(self, namespace: str, zone: str) -> None:
        """Bind the chart's node-CSR ClusterRole to the zone's ServiceAccount (no-op without one)."""
        if not self.csr_cluster_role:
            return
        manifest = node_csr_binding(self.csr_cluster_role, namespace, zone)
        path = f"{_BINDINGS}/{manifest['metadata']['name']}"
        try:
            live: dict[str, Any] | None = await self.kube._call("GET", path)
        except NotFound:
            live = None
        if live is not None and (live.get("metadata", {}).get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
            raise ForeignObject(f"ClusterRoleBinding {manifest['metadata']['name']} exists and is not the operator's")
        await self._apply(path, manifest)

    # --- clean-up -----------------------------------------------------------------------------------

    async def forget(self, namespace: str, zone: str, uid: str) -> None:
        """The Zone of `uid` is gone: delete its CA, and its CSR binding unless a Zone of that name exists
        again (its bundle goes with garbage collection). A CA of a newer Zone of the same name is kept."""
        self._bundles.pop((namespace, zone), None)
        secret = await self.kube.get("v1", "Secret", self.ca_namespace, ca_secret_name(namespace, zone))
        if secret is not None and (secret["metadata"].get("annotations") or {}).get(ZONE_UID_ANNOTATION) == uid:
            if await self._delete_secret(secret):
                log.info("deleted the CA of zone %s/%s", namespace, zone)
        if self.csr_cluster_role and await self.kube.get(_ZONE_VERSION, "Zone", namespace, zone) is None:
            await self._delete_binding(node_csr_binding_name(self.csr_cluster_role, namespace, zone))

    async def _delete_secret(self, secret: dict[str, Any]) -> bool:
        """Delete this very Secret (not one made since under its name)."""
        meta = secret["metadata"]
        body = {"propagationPolicy": "Background", "preconditions": {"uid": meta["uid"]}}
        try:
            await self.kube._call("DELETE", self._secret_path() + f"/{meta['name']}", body)
        except (NotFound, Conflict):
            return False
        return True

    async def _delete_binding(self, name: str) -> bool:
        try:
            await self.kube._call("DELETE", f"{_BINDINGS}/{name}")
        except NotFound:
            return False
        return True

    async def sweep(self, watched: Iterable[str] = ()) -> int:
        """Delete the CAs and bindings of zones that no longer exist (deleted while the operator was down);
        only in the `watched` namespaces (all when empty). Returns how many objects were deleted.

        The CAs and bindings are listed before the zones: whatever is listed existed before the zones were
        read, so a zone made meanwhile never loses its new CA."""
        namespaces = set(watched)
        secrets = await self.kube._call("GET", self._secret_path(), None, [("labelSelector", _SELECTOR)])
        bindings: dict[str, Any] = {"items": []}
        if self.csr_cluster_role:
            bindings = await self.kube._call("GET", _BINDINGS, None, [("labelSelector", _SELECTOR)])
        zones = await self._existing_zones(namespaces)
        deleted = 0
        for item in secrets.get("items", []):
            meta = item["metadata"]
            labels = meta.get("labels") or {}
            key = (labels.get(ZONE_NAMESPACE_LABEL, ""), labels.get(ZONE_LABEL, ""))
            if namespaces and key[0] not in namespaces:
                continue
            if zones.get(key) != (meta.get("annotations") or {}).get(ZONE_UID_ANNOTATION):
                self._bundles.pop(key, None)
                deleted += await self._delete_secret(item)
        for item in bindings.get("items", []):
            labels = item["metadata"].get("labels") or {}
            key = (labels.get(ZONE_NAMESPACE_LABEL, ""), labels.get(ZONE_LABEL, ""))
            if (namespaces and key[0] not in namespaces) or key in zones:
                continue
            deleted += await self._delete_binding(item["metadata"]["name"])
        return deleted

    async def _existing_zones(self, namespaces: set[str]) -> dict[tuple[str, str], str]:
        paths = [f"{_ZONE_API}/namespaces/{n}/zones" for n in sorted(namespaces)] or [f"{_ZONE_API}/zones"]
        found: dict[tuple[str, str], str] = {}
        for path in paths:
            listing = await self.kube._call("GET", path)
            for item in listing.get("items", []):
                meta = item["metadata"]
                found[(meta["namespace"], meta["name"])] = meta["uid"]
        return found
