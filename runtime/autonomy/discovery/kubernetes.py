"""Kubernetes discovery: a list and watch of this zone's pods, by label selector.

Only pods that are Running, Ready, not being deleted and have an IP are nodes: a clone that is still
starting, or is shutting down, is never handed to an app. The zone's ServiceAccount may get, list and
watch pods in its namespace, and nothing more (the operator creates that Role).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from autonomy.discovery.base import NodeInfo

logger = logging.getLogger("autonomy.discovery")

ZONE_LABEL = "autonomy.computer/zone"
POD_LABEL = "autonomy.computer/pod"
PORT_ANNOTATION = "autonomy.computer/transport-port"


def admitted(pod: Any, default_port: int) -> NodeInfo | None:
    """The node a pod object stands for, or None if it must not receive messages now."""
    metadata, status = pod.metadata, pod.status
    if metadata is None or status is None or metadata.deletion_timestamp is not None:
        return None
    if status.phase != "Running" or not status.pod_ip:
        return None
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or []))
    if not ready:
        return None
    labels = metadata.labels or {}
    annotations = metadata.annotations or {}
    try:
        port = int(annotations.get(PORT_ANNOTATION, default_port))
    except ValueError:
        port = default_port
    return NodeInfo(metadata.name, labels.get(POD_LABEL, ""), status.pod_ip, port)


class KubernetesDiscovery:
    """Keeps a live view of the zone's ready pods."""

    def __init__(self, namespace: str, zone: str, default_port: int, kubeconfig: str | None = None) -> None:
        self.namespace = namespace
        self.zone = zone
        self.default_port = default_port
        self.kubeconfig = kubeconfig or os.environ.get("KUBECONFIG")
        self._pods: dict[str, NodeInfo] = {}
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._api: Any = None

    @property
    def selector(self) -> str:
        return f"{ZONE_LABEL}={self.zone}"

    async def start(self, me: NodeInfo) -> None:
        from kubernetes_asyncio import client, config

        if os.environ.get("KUBERNETES_SERVICE_HOST") and not self.kubeconfig:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            await config.load_kube_config(config_file=self.kubeconfig)
        self._api = client.ApiClient()
        self._task = asyncio.get_running_loop().create_task(self._watch_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._api is not None:
            await self._api.close()
            self._api = None

    async def _relist(self, core: Any) -> str:
        pods = await core.list_namespaced_pod(self.namespace, label_selector=self.selector)
        fresh: dict[str, NodeInfo] = {}
        for pod in pods.items:
            info = admitted(pod, self.default_port)
            if info is not None:
                fresh[info.name] = info
        self._pods = fresh
        self._synced.set()
        return str(pods.metadata.resource_version)

    async def _watch_forever(self) -> None:
        from kubernetes_asyncio import client, watch
        from kubernetes_asyncio.client.exceptions import ApiException

        core = client.CoreV1Api(self._api)
        delay = 0.5
        while True:
            try:
                version = await self._relist(core)
                delay = 0.5
                stream = watch.Watch()
                async with stream:
                    async for event in stream.stream(core.list_namespaced_pod, self.namespace,
                                                     label_selector=self.selector, resource_version=version,
                                                     timeout_seconds=300):
                        pod = event["object"]
                        name = pod.metadata.name
                        info = None if event["type"] == "DELETED" else admitted(pod, self.default_port)
                        if info is None:
                            self._pods.pop(name, None)
                        else:
                            self._pods[name] = info
            except asyncio.CancelledError:
                raise
            except ApiException as error:
                if error.status != 410:  # 410 Gone: our resourceVersion expired, just relist
                    logger.warning("pod watch failed (%s %s); retrying in %.1f s", error.status, error.reason, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
            except Exception as error:
                logger.warning("pod watch failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def nodes(self) -> list[NodeInfo]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._synced.wait(), 10.0)
        return sorted(self._pods.values(), key=lambda info: info.name)

    async def resolve(self, name: str) -> NodeInfo | None:
        for info in await self.nodes():
            if info.name == name:
                return info
        return None
