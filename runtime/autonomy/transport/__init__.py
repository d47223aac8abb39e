"""Node-to-node transport: one long-lived gRPC bidirectional stream per pair of nodes.

The node sees `GrpcTransport.send(peer, ...)` and two callbacks (envelopes arrived, peer gone); it never
sees gRPC. Frames carry batches of protobuf envelopes (protos/transport.proto). Every link is mutual TLS
(transport/tls.py) with the node's zone certificate.
"""

from autonomy.transport.grpc_transport import GrpcTransport, Identity, TransportSettings
from autonomy.transport.link import Kind
from autonomy.transport.tls import LinkTls

__all__ = ["GrpcTransport", "Identity", "Kind", "LinkTls", "TransportSettings"]
