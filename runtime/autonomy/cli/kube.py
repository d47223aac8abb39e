"""The Kubernetes API as the CLI uses it: contexts, the autonomy CRDs, Clusters, Zones, Secrets, pods.

Only this module imports the `kubernetes` client; it maps API failures to `CliError` with an exit code
(unreachable -> CLUSTER, missing -> NOT_FOUND) so that commands stay short.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes import config as _config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as Urllib3Error

from autonomy.cli.exits import CliError, Exit
from autonomy.cli.userconfig import UserConfig

GROUP = "autonomy.computer"
VERSION = "v1alpha1"
CRDS = (f"clusters.{GROUP}", f"zones.{GROUP}")
FIELD_MANAGER = "autonomy-cli"
# The generated client's annotations are loose (Optional everywhere, `object` for custom objects);
# this module checks what it reads, so it talks to the client untyped.
config: Any = _config
ZONE_LABEL = f"{GROUP}/zone"
POD_LABEL = f"{GROUP}/pod"
# A kubeconfig cluster extension naming the containerd of a local test node (hack/k8s/realnode.py):
# `zone deploy` imports the images it built there instead of pushing them, as it loads them into kind.
LOCAL_CONTAINERD_EXTENSION = f"{GROUP}/local-containerd"


@dataclass(frozen=True)
class LocalContainerd:
    """The containerd of a local cluster's node, where built images are imported (no registry)."""

    address: str  # its socket
    namespace: str = "k8s.io"  # the CRI's namespace
    ctr: str = "ctr"


@dataclass(frozen=True)
class Target:
    """Where the CLI talks to: a kubeconfig context and the namespace for zones."""

    context: str | None
    kubeconfig: str | None
    namespace: str
    local_containerd: LocalContainerd | None = None

    @property
    def kind_cluster(self) -> str | None:
        """kind names its contexts `kind-<cluster>`."""
        if self.context and self.context.startswith("kind-"):
            return self.context[len("kind-") :]
        return None


def kubeconfig_path(explicit: str | None) -> str:
    """The kubeconfig file: the one given, else $KUBECONFIG's first entry (read now, not at import)."""
    if explicit:
        return explicit
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return os.path.expanduser(first or "~/.kube/config")


def local_containerd(kubeconfig: str, context: str | None) -> LocalContainerd | None:
    """The `autonomy.computer/local-containerd` extension of the context's cluster, if it has one."""
    import yaml

    try:
        with open(kubeconfig) as handle:
            document = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(document, dict):
        return None
    chosen = context or document.get("current-context")
    cluster_name = next(
        (
            (c.get("context") or {}).get("cluster")
            for c in document.get("contexts") or []
            if isinstance(c, dict) and c.get("name") == chosen
        ),
        None,
    )
    for cluster in document.get("clusters") or []:
        if not isinstance(cluster, dict) or cluster.get("name") != cluster_name:
            continue
        for extension in (cluster.get("cluster") or {}).get("extensions") or []:
            if isinstance(extension, dict) and extension.get("name") == LOCAL_CONTAINERD_EXTENSION:
                value = extension.get("extension") or {}
                if isinstance(value, dict) and value.get("address"):
                    return LocalContainerd(
                        address=str(value["address"]),
                        namespace=str(value.get("namespace") or "k8s.io"),
                        ctr=str(value.get("ctr") or "ctr"),
                    )
    return None


def contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    kubeconfig = kubeconfig_path(kubeconfig)
    try:
        all_contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError) as error:
        raise CliError(f"no usable kubeconfig: {error}", Exit.CLUSTER) from error
    return [c["name"] for c in all_contexts], (current or {}).get("name")


class Kube:
    """A connection to one cluster (one context)."""

    def __init__(self, target: Target, api: Any) -> None:
        self.target = target
        self.api = api
        self.core: Any = client.CoreV1Api(api)
        self.apps: Any = client.AppsV1Api(api)
        self.custom: Any = client.CustomObjectsApi(api)
        self.ext: Any = client.ApiextensionsV1Api(api)

    @classmethod
    def connect(cls, settings: UserConfig, *, context: str | None = None, namespace: str | None = None) -> Kube:
        kubeconfig = kubeconfig_path(settings.kubeconfig)
        chosen = context or settings.context
        try:
            api = config.new_client_from_config(config_file=kubeconfig, context=chosen)
            all_contexts, current_context = config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError) as error:
            raise CliError(
                f"cannot use kube context {chosen or '(current)'}: {error}",
                Exit.CLUSTER,
                details=["run `autonomy cluster enroll --context NAME` to choose one"],
            ) from error
        ctx_name = chosen or (current_context or {}).get("name")
        ctx_namespace = None
        for c in all_contexts:
            if c["name"] == ctx_name:
                ctx_namespace = c.get("context", {}).get("namespace")
        ns = namespace or settings.namespace or ctx_namespace or "default"
        local = local_containerd(kubeconfig, ctx_name)
        return cls(Target(context=ctx_name, kubeconfig=kubeconfig, namespace=ns, local_containerd=local), api)

    # -- cluster --------------------------------------------------------------------------------

    def server_version(self) -> str:
        try:
            info: Any = client.VersionApi(self.api).get_code()
        except (ApiException, Urllib3Error, OSError) as error:
            raise CliError(
                f"cannot reach the cluster of context {self.target.context}: {error}", Exit.CLUSTER
            ) from error
        return str(info.git_version)

    def missing_crds(self) -> list[str]:
        missing = []
        for name in CRDS:
            try:
                self.ext.read_custom_resource_definition(name)
            except ApiException as error:
                if error.status == 404:
                    missing.append(name)
                else:
                    raise _api_error(error, f"reading CRD {name}") from error
        return missing

    def operator_deployments(self) -> list[dict[str, Any]]:
        """Deployments of the autonomy operator in any namespace (found by its managed-by label)."""
        try:
            found = self.apps.list_deployment_for_all_namespaces(
                label_selector="app.kubernetes.io/name=autonomy-operator"
            ).items
            if not found:
                found = [
                    d
                    for d in self.apps.list_deployment_for_all_namespaces().items
                    if "autonomy-operator" in (d.metadata.name or "")
                ]
        except ApiException as error:
            raise _api_error(error, "listing deployments") from error
        out = []
        for d in found:
            images = [c.image for c in d.spec.template.spec.containers]
            out.append(
                {
                    "namespace": d.metadata.namespace,
                    "name": d.metadata.name,
                    "image": images[0] if images else "",
                    "ready": (d.status.ready_replicas or 0) >= 1,
                    "version": (d.metadata.labels or {}).get("app.kubernetes.io/version")
                    or (images[0].rsplit(":", 1)[-1] if images and ":" in images[0] else ""),
                }
            )
        return out

    def clusters(self) -> list[dict[str, Any]]:
        try:
            result = self.custom.list_cluster_custom_object(GROUP, VERSION, "clusters")
        except ApiException as error:
            raise _api_error(error, "listing Clusters") from error
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    def ensure_cluster(self, name: str = "default", *, timeout: float = 30.0) -> dict[str, Any]:
        """The cluster's `Cluster` (created when there is none), once it has its `status.clusterId`."""
        existing = self.clusters()
        if not existing:
            try:
                self.custom.create_cluster_custom_object(
                    GROUP,
                    VERSION,
                    "clusters",
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "Cluster",
                        "metadata": {"name": name},
                        "spec": {},
                    },
                )
            except ApiException as error:
                if error.status != 409:
                    raise _api_error(error, "creating the Cluster") from error
            cluster_name = name
        else:
            cluster_name = existing[0]["metadata"]["name"]
        deadline = time.monotonic() + timeout
        while True:
            try:
                obj: dict[str, Any] = self.custom.get_cluster_custom_object(GROUP, VERSION, "clusters", cluster_name)
            except ApiException as error:
                raise _api_error(error, f"reading Cluster {cluster_name}") from error
            if obj.get("status", {}).get("clusterId"):
                return obj
            if time.monotonic() > deadline:
                raise CliError(
                    f"Cluster {cluster_name} has no status.clusterId after {timeout:.0f} s",
                    Exit.TIMEOUT,
                    details=["is the autonomy operator running? (`autonomy cluster enroll --install`)"],
                )
            time.sleep(0.5)

    # -- zones ----------------------------------------------------------------------------------

    def list_zones(self, all_namespaces: bool = False) -> list[dict[str, Any]]:
        try:
            if all_namespaces:
                result = self.custom.list_cluster_custom_object(GROUP, VERSION, "zones")
            else:
                result = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.target.namespace, "zones")
        except ApiException as error:
            raise _api_error(error, "listing Zones") from error
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    def get_zone(self, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.target.namespace, "zones", name
            )
            return obj
        except ApiException as error:
            if error.status == 404:
                return None
            raise _api_error(error, f"reading Zone {name}") from error

    def apply_zone(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of a Zone (field manager autonomy-cli); returns the stored object."""
        name = manifest["metadata"]["name"]
        try:
            response = self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                self.target.namespace,
                "zones",
                name,
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,  # the client cannot deserialize apply responses itself
            )
        except ApiException as error:
            raise _api_error(error, f"applying Zone {name}") from error
        obj: dict[str, Any] = json.loads(response.data)
        return obj

    def delete_zone(self, name: str) -> bool:
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.target.namespace, "zones", name)
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            raise _api_error(error, f"deleting Zone {name}") from error

    def apply_secret(self, name: str, data: dict[str, str], labels: dict[str, str]) -> None:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": self.target.namespace, "labels": labels},
            "stringData": data,
        }
        try:
            existing = self.core.read_namespaced_secret(name, self.target.namespace)
        except ApiException as error:
            if error.status != 404:
                raise _api_error(error, f"reading Secret {name}") from error
            existing = None
        try:
            if existing is None:
                self.core.create_namespaced_secret(self.target.namespace, body)
            else:
                # Replace, so that keys removed from secrets.yaml go away too.
                body["metadata"]["resourceVersion"] = existing.metadata.resource_version
                self.core.replace_namespaced_secret(name, self.target.namespace, body)
        except ApiException as error:
            raise _api_error(error, f"writing Secret {name}") from error

    def delete_secret(self, name: str) -> None:
        try:
            self.core.delete_namespaced_secret(name, self.target.namespace)
        except ApiException as error:
            if error.status != 404:
                raise _api_error(error, f"deleting Secret {name}") from error

    # -- pods -----------------------------------------------------------------------------------

    def zone_pods(self, zone: str, pod: str | None = None) -> list[Any]:
        selector = f"{ZONE_LABEL}={zone}" + (f",{POD_LABEL}={pod}" if pod else "")
        try:
            pods: list[Any] = self.core.list_namespaced_pod(self.target.namespace, label_selector=selector).items
        except ApiException as error:
            raise _api_error(error, f"listing pods of zone {zone}") from error
        return sorted(pods, key=lambda p: p.metadata.name)

    def pod_events(self, pod_name: str) -> list[str]:
        try:
            events = self.core.list_namespaced_event(
                self.target.namespace, field_selector=f"involvedObject.name={pod_name}"
            ).items
        except ApiException:
            return []
        return [f"{e.type} {e.reason}: {e.message}" for e in events]

    def stream_logs(
        self, pod: str, container: str, *, follow: bool, tail: int | None, since_seconds: int | None
    ) -> Iterator[str]:
        kwargs: dict[str, Any] = {"container": container, "follow": follow, "_preload_content": False}
        if tail is not None and tail >= 0:
            kwargs["tail_lines"] = tail
        if since_seconds is not None:
            kwargs["since_seconds"] = since_seconds
        try:
            response = self.core.read_namespaced_pod_log(pod, self.target.namespace, **kwargs)
        except ApiException as error:
            raise _api_error(error, f"reading logs of {pod}/{container}") from error
        buffer = b""
        try:
            for chunk in response.stream(1024):  # each chunk as it arrives: log responses are chunked
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    yield line.decode(errors="replace")
            if buffer:
                yield buffer.decode(errors="replace")
        finally:
            response.release_conn()


def _api_error(error: ApiException, doing: str) -> CliError:
    status = error.status or 0
    reason = error.reason or ""
    message = reason
    try:
        message = json.loads(error.body or "{}").get("message", reason)
    except (ValueError, TypeError):
        pass
    if status == 404:
        return CliError(
            f"{doing}: not found ({message})",
            Exit.NOT_FOUND,
            details=["are the autonomy CRDs installed? (`autonomy cluster enroll --install`)"],
        )
    if status in (401, 403):
        return CliError(f"{doing}: permission denied ({message})", Exit.CLUSTER)
    if status == 422:
        return CliError(f"{doing}: rejected by the cluster", Exit.CONFIG, details=[message])
    if status == 0:
        return CliError(f"{doing}: cannot reach the cluster ({error})", Exit.CLUSTER)
    return CliError(f"{doing}: {status} {message}", Exit.FAILURE)
