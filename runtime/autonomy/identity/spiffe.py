"""A node's identity as a SPIFFE ID, the convention of SPIFFE, Linkerd and Istio.

`spiffe://<clusterId>/ns/<namespace>/zone/<zone>/node/<node>`: the trust domain is the cluster id; the
path names the namespace, the zone and the node (the Kubernetes pod name, or `zone dev`'s node name).
Parsing is strict (exactly these segments, each a DNS-label-like name) so that two different identities
can never render to the same URI.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SCHEME = "spiffe://"
#: The Kubernetes CSR signer name of this project: the operator signs CSRs of this signer only, and the
#: controller-manager's own signers (kubernetes.io/*) never do.
SIGNER_NAME = "autonomy.computer/zone-node"
# Segments: lowercase letters, digits, '-' and '.', as Kubernetes names; the node may also use '_' and
# capitals (zone dev, tests and upstream apps name nodes freely; SPIFFE paths allow both). No '/', so the
# path splits one way only.
_SEGMENT = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,251}[a-z0-9])?$")
_NODE_SEGMENT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class WorkloadId:
    cluster: str
    namespace: str
    zone: str
    node: str

    def __post_init__(self) -> None:
        for field_name in ("cluster", "namespace", "zone", "node"):
            value = getattr(self, field_name)
            pattern = _NODE_SEGMENT if field_name == "node" else _SEGMENT
            if not isinstance(value, str) or not pattern.match(value):
                letters = "letters" if field_name == "node" else "lowercase letters"
                raise ValueError(
                    f"identity {field_name} {value!r} is not a valid name "
                    f"(1-253 {letters}, digits, '.', '_' or '-', starting and ending alphanumeric)"
                )

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.cluster}/ns/{self.namespace}/zone/{self.zone}/node/{self.node}"

    @property
    def dns_name(self) -> str:
        """The one DNS SAN of this node's certificate. gRPC checks the server's certificate against the
        name the dialer expects (`grpc.ssl_target_name_override`), so a dialer that expects this name
        reaches this node and no other. The node part is hashed: any node name gives a valid, bounded
        DNS label."""
        digest = hashlib.sha256(self.node.encode()).hexdigest()[:32]
        return f"n{digest}.{self.zone}.{self.namespace}.{self.cluster}.zone.autonomy"

    def same_zone(self, other: WorkloadId) -> bool:
        return (self.cluster, self.namespace, self.zone) == (other.cluster, other.namespace, other.zone)

    def with_node(self, node: str) -> WorkloadId:
        return WorkloadId(self.cluster, self.namespace, self.zone, node)

    @classmethod
    def parse(cls, uri: str) -> WorkloadId:
        """The WorkloadId of `uri`; ValueError if it is not exactly one of ours."""
        if not isinstance(uri, str) or not uri.startswith(SCHEME) or len(uri) > 2048:
            raise ValueError("not a spiffe:// URI")
        parts = uri[len(SCHEME):].split("/")
        if len(parts) != 7 or parts[1] != "ns" or parts[3] != "zone" or parts[5] != "node":
            raise ValueError("not an autonomy zone identity (spiffe://<cluster>/ns/<ns>/zone/<zone>/node/<node>)")
        return cls(cluster=parts[0], namespace=parts[2], zone=parts[4], node=parts[6])

    def __str__(self) -> str:
        return self.uri
