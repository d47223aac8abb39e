"""The operator's API client: server-side apply, delete, get and status patches, rate limited.

A thin layer over `kubernetes_asyncio`'s generic `call_api`, so one code path serves every kind
of child. Failures are mapped at this boundary: `Conflict` and `Invalid` (the spec cannot be
realized as is) versus `Transient` (retry later); callers never see `ApiException`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from autonomy_operator.builders import FIELD_MANAGER

__all__ = [
    "Conflict",
    "Invalid",
    "Kube",
    "KubeError",
    "NotFound",
    "RateLimiter",
    "Transient",
    "resource_path",
]

#: apiVersion/kind -> plural, for every kind the operator writes.
_PLURALS = {
    "Deployment": "deployments",
    "Service": "services",
    "ServiceAccount": "serviceaccounts",
    "Secret": "secrets",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "NetworkPolicy": "networkpolicies",
    "Ingress": "ingresses",
    "Zone": "zones",
    "Cluster": "clusters",
    "Event": "events",
}
_CLUSTER_SCOPED = {"Cluster"}


class KubeError(Exception):
    """An API call failed; `status` is the HTTP status (0 when no answer came)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    """409: another field manager owns fields we set (or the object exists when it must not)."""


class Invalid(KubeError):
    """422 or 400: the API server refuses the object as built."""


class Transient(KubeError):
    """Anything worth retrying: 429, 5xx, timeouts, connection errors."""


def resource_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    plural = _PLURALS[kind]
    path = (
        f"{base}/{plural}"
        if kind in _CLUSTER_SCOPED or namespace is None
        else (f"{base}/namespaces/{namespace}/{plural}")
    )
    return f"{path}/{name}" if name else path


class RateLimiter:
    """A token bucket: at most `qps` requests a second on average, bursts of up to `burst`."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.qps <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.qps)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.qps)


def _error(error: ApiException) -> KubeError:
    try:
        message = json.loads(error.body or "{}").get("message") or str(error.reason)
    except (ValueError, AttributeError):
        message = str(error.reason)
    status = int(error.status or 0)
    if status == 404:
        return NotFound(message, status)
    if status == 409:
        return Conflict(message, status)
    if status in (400, 422):
        return Invalid(message, status)
    return Transient(message, status)


class Kube:
    """The calls the operator makes, each counted in `writes` / `requests` for metrics."""

    def __init__(self, api: client.ApiClient, qps: float = 50.0, burst: int = 100) -> None:
        self.api = api
        self.limiter = RateLimiter(qps, burst)
        self.requests = 0
        self.writes = 0

    @classmethod
    async def connect(cls, qps: float = 50.0, burst: int = 100) -> Kube:
        """In a pod, the service account; elsewhere, KUBECONFIG or ~/.kube/config."""
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            await config.load_kube_config(client_configuration=configuration)
        return cls(client.ApiClient(configuration), qps, burst)

    async def close(self) -> None:
        await self.api.close()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        await self.limiter.acquire()
        self.requests += 1
        try:
            response = await self.api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
            data = await response.read()
            if not 200 <= response.status <= 299:
                # Without preloading, the generated client leaves status checks to us.
                error = ApiException(status=response.status, reason=response.reason)
                error.body = data.decode("utf-8", "replace")
                raise _error(error)
        except ApiException as error:
            raise _error(error) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise Transient(f"{method} {path}: {error!r}") from None
        result: dict[str, Any] = json.loads(data) if data else {}
        return result

    async def apply(self, manifest: dict[str, Any], force: bool = False) -> dict[str, Any]:
        """Server-side apply with field manager `autonomy-operator`."""
        meta = manifest["metadata"]
        path = resource_path(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"])
        query = [("fieldManager", FIELD_MANAGER)] + ([("force", "true")] if force else [])
        self.writes += 1
        return await self._call("PATCH", path, manifest, query, "application/apply-patch+yaml")

    async def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            return await self._call("GET", resource_path(api_version, kind, namespace, name))
        except NotFound:
            return None

    async def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str, uid: str | None = None
    ) -> bool:
        """Delete in the background (dependents go with garbage collection); False if already gone.

        With `uid`, only that very object: one created under the same name since it was read stays
        (the API server answers 409, raised as `Conflict`).
        """
        self.writes += 1
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        try:
            await self._call("DELETE", resource_path(api_version, kind, namespace, name), body)
        except NotFound:
            return False
        return True

    async def create_event(
        self, involved: dict[str, Any], type_: str, reason: str, message: str
    ) -> dict[str, Any]:
        """A core/v1 Event about `involved` (apiVersion, kind, name, namespace, uid), as `kubectl describe`
        shows them; the message is cut to the 1 KiB the API server keeps of it."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        namespace = involved["namespace"]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{involved['name']}.", "namespace": namespace},
            "involvedObject": involved,
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        self.writes += 1
        return await self._call("POST", resource_path("v1", "Event", namespace), event)

    async def patch_metadata(
        self, api_version: str, kind: str, namespace: str | None, name: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """A JSON merge patch of `metadata` (labels, annotations)."""
        self.writes += 1
        path = resource_path(api_version, kind, namespace, name)
        return await self._call("PATCH", path, {"metadata": metadata}, None, "application/merge-patch+json")

    async def patch_status(
        self, api_version: str, kind: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """A JSON merge patch of `status` through the status subresource."""
        self.writes += 1
        path = resource_path(api_version, kind, namespace, name) + "/status"
        return await self._call("PATCH", path, {"status": status}, None, "application/merge-patch+json")
