"""The Kubernetes API token, for node containers only.

A zone's ServiceAccount may list the zone's pods (discovery) and file CSRs for node certificates; the
operator signs a CSR for a pod only if the pod's own bound token asked. Kubernetes mounts that token in
every container by default, so a sidecar beside the node (a third-party MCP server, say) could ask for
the node's certificate. So the pod does not automount it, and each node container gets the same
projected volume the kubelet would have made (token, cluster CA, namespace), at the usual path, where
in-cluster configuration finds it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOKEN_DIR", "VOLUME", "mount", "pod_settings", "volume"]

VOLUME = "kube-api-access"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: What the kubelet uses for its own projected token (an hour, plus the 7 s it adds to notice reuse).
TOKEN_SECONDS = 3607


def pod_settings() -> dict[str, Any]:
    return {"automountServiceAccountToken": False}


def volume() -> dict[str, Any]:
    return {
        "name": VOLUME,
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": TOKEN_DIR, "readOnly": True}
