"""A node's certificate from the Kubernetes CSR API: the `CertificateIssuer` of nodes in a cluster.

The node sends its CSR as a `certificates.k8s.io/v1` CertificateSigningRequest with this project's signer
name (`SIGNER_NAME`), authenticated as its pod (the projected ServiceAccount token of the zone's
`<zone>-node` account, which the apiserver binds to the pod and records in the CSR's `spec.username` and
`spec.extra`; nothing there can be forged by the requester). The operator checks the requester and the
pod, approves and signs; the node watches its CSR until the certificate is there (or it is Denied, or the
time is up) and reads the zone's trust bundle from the ConfigMap `<zone>-ca` of its namespace, which the
operator writes (public: the zone CA's certificate only; the CA's key never leaves the operator's own
namespace).

    issuer = KubernetesCsrIssuer(namespace)          # in a pod: the pod's ServiceAccount
    issuer = KubernetesCsrIssuer(namespace, kubeconfig=path)   # tests and tools
    credentials = await obtain_credentials(issuer, workload, (workload.dns_name,))
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from kubernetes_asyncio import client, config

from autonomy.identity.authority import DEFAULT_LEAF_LIFETIME, CertificateRefused
from autonomy.identity.spiffe import SIGNER_NAME, WorkloadId

__all__ = [
    "CSR_USAGES",
    "TRUST_BUNDLE_KEY",
    "CertificateIssuanceError",
    "KubernetesCsrIssuer",
    "trust_bundle_name",
]

#: What a node certificate is for: TLS client and server of the transport (ECDSA keys sign; they do not
#: encipher).
CSR_USAGES = ("digital signature", "client auth", "server auth")
#: The key of the trust bundle ConfigMap holding the zone's CA certificate(s), PEM.
TRUST_BUNDLE_KEY = "ca.crt"
#: The CSR API refuses expirationSeconds below 10 minutes.
_MIN_EXPIRATION_SECONDS = 600
_CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
_NAME_CHARACTERS = re.compile(r"[^a-z0-9.-]+")
#: The largest certificate or bundle answer read (a leaf is about 1 KiB; a bundle a few).
_MAX_PEM_BYTES = 256 * 1024


def trust_bundle_name(zone: str) -> str:
    """The ConfigMap (in the zone's namespace) with the zone's trust bundle."""
    return f"{zone}-ca"


class CertificateIssuanceError(RuntimeError):
    """The CSR API could not be used or did not answer in time; the message says what to check."""


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _csr_name_prefix(node: str) -> str:
    """generateName for the node's CSRs: the node's name as a Kubernetes name (the apiserver adds 5
    random characters)."""
    name = _NAME_CHARACTERS.sub("-", node.lower()).strip("-.")[:200].rstrip("-.")
    return f"{name or 'node'}-"


class KubernetesCsrIssuer:
    """Signs a node's CSR through the Kubernetes CSR API (the operator is the signer).

    `namespace` is the node's own (its pod's) namespace; `kubeconfig` a kubeconfig file to use instead of
    the pod's ServiceAccount; `lifetime` the certificate lifetime asked for (the operator may give less);
    `timeout` how long to wait for the operator's answer, in seconds.
    """

    def __init__(
        self,
        namespace: str,
        *,
        kubeconfig: str | Path | None = None,
        lifetime: dt.timedelta = DEFAULT_LEAF_LIFETIME,
        timeout: float = 120.0,
    ) -> None:
        if not namespace:
            raise ValueError("KubernetesCsrIssuer needs the node's namespace")
        if lifetime.total_seconds() < _MIN_EXPIRATION_SECONDS:
            raise ValueError(f"a node certificate lifetime must be at least {_MIN_EXPIRATION_SECONDS} s")
        if timeout <= 0:
            raise ValueError("the CSR timeout must be positive")
        self.namespace = namespace
        self.kubeconfig = Path(kubeconfig) if kubeconfig is not None else None
        self.lifetime = lifetime
        self.timeout = timeout

    async def issue(self, csr_pem: bytes, workload: WorkloadId) -> tuple[bytes, bytes]:
        """(certificate PEM, the zone's trust bundle PEM) for `csr_pem`, once the operator has signed it.

        Raises CertificateRefused when the operator Denied the request (or the signer Failed it), with its
        reason; CertificateIssuanceError when the API refused us or nobody answered within `timeout`."""
        if workload.namespace != self.namespace:
            raise ValueError(f"identity {workload.uri} is not of namespace {self.namespace!r}")
        api = await self._client()
        try:
            deadline = time.monotonic() + self.timeout
            name, version = await self._create(api, csr_pem, workload)
            certificate_pem = await self._wait(api, name, version, deadline)
            bundle_pem = await self._trust_bundle(api, workload.zone)
        finally:
            await api.close()
        _check_answer(csr_pem, certificate_pem, bundle_pem, name)
        return certificate_pem, bundle_pem

    # --- the API ----------------------------------------------------------------------------------

    async def _client(self) -> client.ApiClient:
        configuration = client.Configuration()
        try:
            if self.kubeconfig is None:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                await config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        except (config.ConfigException, OSError, ValueError) as error:
            where = "the pod's ServiceAccount" if self.kubeconfig is None else f"kubeconfig {self.kubeconfig}"
            raise CertificateIssuanceError(f"cannot reach the Kubernetes API with {where}: {error}") from None
        return client.ApiClient(configuration)

    async def _call(
        self,
        api: client.ApiClient,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        try:
            response: aiohttp.ClientResponse = await api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise CertificateIssuanceError(f"the Kubernetes API did not answer {method} {path}: {error!r}") from None
        if not 200 <= response.status <= 299:
            data = await response.read()
            response.release()
            try:
                message = str(json.loads(data).get("message") or response.reason)
            except (ValueError, AttributeError):
                message = str(response.reason)
            raise _ApiError(response.status, message[:500])
        return response

    async def _json(self, api: client.ApiClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self._call(api, method, path, body, timeout=30)
        data = await response.read()
        result: dict[str, Any] = json.loads(data)
        return result

    async def _create(self, api: client.ApiClient, csr_pem: bytes, workload: WorkloadId) -> tuple[str, str]:
        body = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {
                "generateName": _csr_name_prefix(workload.node),
                # For people (`kubectl get csr -l ...`); the signer trusts none of it.
                "labels": {"autonomy.computer/zone": workload.zone, "autonomy.computer/namespace": workload.namespace},
            },
            "spec": {
                "request": base64.b64encode(csr_pem).decode(),
                "signerName": SIGNER_NAME,
                "usages": list(CSR_USAGES),
                "expirationSeconds": int(self.lifetime.total_seconds()),
            },
        }
        try:
            created = await self._json(api, "POST", _CSR_PATH, body)
        except _ApiError as error:
            if error.status in (401, 403):
                raise CertificateIssuanceError(
                    f"the Kubernetes API refused to create a CertificateSigningRequest for {workload.uri} "
                    f"({error.status}: {error}); the zone's ServiceAccount {workload.zone}-node needs the chart's "
                    "node-CSR ClusterRole, which the autonomy operator binds to it (is the operator running?)"
                ) from None
            raise CertificateIssuanceError(f"could not create a CertificateSigningRequest: {error}") from None
        meta = created.get("metadata") or {}
        return str(meta["name"]), str(meta.get("resourceVersion") or "")

    async def _wait(self, api: client.ApiClient, name: str, version: str, deadline: float) -> bytes:
        """Watch the CSR until it has a certificate, is Denied or Failed, or the deadline passes."""
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if not version:  # the watch expired (410): start again from the current state
                    current = await self._json(api, "GET", f"{_CSR_PATH}/{name}")
                    found = _outcome(current)
                    if found is not None:
                        return found
                    version = str(current.get("metadata", {}).get("resourceVersion") or "")
                query = [
                    ("watch", "true"),
                    ("fieldSelector", f"metadata.name={name}"),
                    ("resourceVersion", version),
                    ("allowWatchBookmarks", "true"),
                    ("timeoutSeconds", str(max(1, int(left)))),
                ]
                async with asyncio.timeout(left):
                    response = await self._call(api, "GET", _CSR_PATH, query=query)
                    try:
                        async for line in response.content:
                            if not line.strip():
                                continue
                            event = json.loads(line)
                            obj = event.get("object") or {}
                            if event.get("type") == "ERROR":
                                if obj.get("code") == 410:
                                    version = ""
                                    break
                                raise CertificateIssuanceError(
                                    f"watching CertificateSigningRequest {name} failed: {obj.get('message')}"
                                )
                            version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                            if event.get("type") == "DELETED":
                                raise CertificateIssuanceError(
                                    f"CertificateSigningRequest {name} was deleted before it was signed"
                                )
                            if event.get("type") == "BOOKMARK":
                                continue
                            found = _outcome(obj)
                            if found is not None:
                                return found
                    finally:
                        _abandon(response)
        except TimeoutError:
            raise CertificateIssuanceError(
                f"no certificate for CertificateSigningRequest {name} after {self.timeout:.0f} s: is the autonomy "
                f"operator running and signing {SIGNER_NAME} (its logs; kubectl describe csr {name})?"
            ) from None
        except _ApiError as error:
            raise CertificateIssuanceError(
                f"could not watch CertificateSigningRequest {name} ({error.status}: {error}); the zone's "
                "ServiceAccount needs get and watch on certificatesigningrequests (the chart's node-CSR ClusterRole)"
            ) from None

    async def _trust_bundle(self, api: client.ApiClient, zone: str) -> bytes:
        configmap = trust_bundle_name(zone)
        try:
            found = await self._json(api, "GET", f"/api/v1/namespaces/{self.namespace}/configmaps/{configmap}")
        except _ApiError as error:
            raise CertificateIssuanceError(
                f"cannot read the zone's trust bundle, ConfigMap {configmap} in namespace {self.namespace} "
                f"({error.status}: {error}); the autonomy operator writes it with the zone's CA"
            ) from None
        bundle = (found.get("data") or {}).get(TRUST_BUNDLE_KEY, "")
        if not bundle or len(bundle) > _MAX_PEM_BYTES:
            raise CertificateIssuanceError(f"ConfigMap {configmap} has no {TRUST_BUNDLE_KEY}")
        return str(bundle).encode()


def _abandon(response: aiohttp.ClientResponse) -> None:
    """Drop a watch we stop reading: abort its connection (the stream is unfinished, so it cannot be reused);
    a graceful TLS close would still be in flight when a short-lived event loop ends, and leak the socket."""
    connection = response.connection
    transport = connection.transport if connection is not None else None
    if transport is not None:
        transport.abort()
    response.close()


def _outcome(csr: dict[str, Any]) -> bytes | None:
    """The certificate when issued; CertificateRefused when Denied or Failed; None while pending."""
    status = csr.get("status") or {}
    name = csr.get("metadata", {}).get("name", "")
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Denied", "Failed") and condition.get("status", "True") == "True":
            reason = str(condition.get("reason") or condition["type"])[:100]
            message = str(condition.get("message") or "")[:500]
            verdict = "denied" if condition["type"] == "Denied" else "failed"
            raise CertificateRefused(f"the signer {verdict} CertificateSigningRequest {name}: {reason}: {message}")
    certificate = status.get("certificate")
    if not certificate:
        return None
    if len(certificate) > _MAX_PEM_BYTES:
        raise CertificateIssuanceError(f"CertificateSigningRequest {name} has an oversized certificate")
    return base64.b64decode(certificate)


def _check_answer(csr_pem: bytes, certificate_pem: bytes, bundle_pem: bytes, name: str) -> None:
    """The certificate is for our key and is issued by a CA of the trust bundle."""
    try:
        leaf = x509.load_pem_x509_certificates(certificate_pem)[0]
        authorities = x509.load_pem_x509_certificates(bundle_pem)
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as error:
        raise CertificateIssuanceError(f"CertificateSigningRequest {name}: unreadable answer: {error}") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*raw) != csr.public_key().public_bytes(*raw):
        raise CertificateIssuanceError(f"CertificateSigningRequest {name} was answered for another key")
    for authority in authorities:
        try:
            leaf.verify_directly_issued_by(authority)
            return
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise CertificateIssuanceError(
        f"the certificate of CertificateSigningRequest {name} is not issued by the zone's trust bundle"
    )
