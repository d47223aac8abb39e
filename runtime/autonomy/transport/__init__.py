"""Node-to-node transport: one long-lived gRPC bidirectional stream per pair of nodes.

The node sees `GrpcTransport.send(peer, ...)` and two callbacks (envelopes arrived, peer gone); it never
sees gRPC. Frames carry batches of protobuf envelopes (protos/transport.proto).
"""

from autonomy.transport.grpc_transport import GrpcTransport, Identity, TransportSettings
from autonomy.transport.link import Kind

__all__ = ["GrpcTransport", "Identity", "Kind", "TransportSettings"]
