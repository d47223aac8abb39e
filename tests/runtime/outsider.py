"""A process that tries to run code on a node: the attacker of the outsider tests, over real gRPC.

It dials the node's transport port (with TLS and whatever certificate it was given, or in plaintext),
sends a Hello naming whichever node it claims to be and, without waiting for an answer, a start_worker
request whose pickled worker writes a marker file the moment it is unpickled. It prints one JSON line:
everything it received back (status code, details, trailing metadata, frames), and nothing it was given.

    python outsider.py '{"target": "127.0.0.1:port", "claim": "node", "marker": "/path", "server_name": "...",
                         "ca": "ca.pem", "cert": "cert.pem", "key": "key.pem", "plaintext": false}'
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
from typing import Any

import cloudpickle
import grpc
import grpc.aio

from autonomy.transport.grpc_transport import METHOD, PROTOCOL_VERSION
from autonomy.transport.protos import transport_pb2 as pb


class WritesMarker:
    """Unpickling this writes the marker: proof that the node ran the outsider's code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "the outsider's code ran here"))


def _read(path: str | None) -> bytes | None:
    return pathlib.Path(path).read_bytes() if path else None


async def attempt(plan: dict[str, Any]) -> dict[str, Any]:
    if plan.get("plaintext"):
        channel = grpc.aio.insecure_channel(plan["target"])
    else:
        credentials = grpc.ssl_channel_credentials(_read(plan.get("ca")), _read(plan.get("key")),
                                                   _read(plan.get("cert")))
        channel = grpc.aio.secure_channel(plan["target"], credentials,
                                          options=[("grpc.ssl_target_name_override", plan["server_name"])])
    received: dict[str, Any] = {"frames": [], "status": None, "details": None, "trailing": None}
    async with channel:
        call = channel.stream_stream(METHOD, request_serializer=pb.Frame.SerializeToString,
                                     response_deserializer=pb.Frame.FromString)()
        shipment = pb.Envelope(address="_node_controller", body=json.dumps({"op": "start_worker", "name": "w"}),
                               reply_to="_mbox_outsider", request_id=1,
                               blob=cloudpickle.dumps(WritesMarker(plan["marker"])))
        try:
            async with asyncio.timeout(10):
                await call.write(pb.Frame(hello=pb.Hello(version=PROTOCOL_VERSION, node=plan["claim"],
                                                         instance="outsider", replace=True)))
                await call.write(pb.Frame(envelopes=[shipment]))
                while (frame := await call.read()) is not grpc.aio.EOF:
                    received["frames"].append(str(frame))
                    if frame.envelopes:  # the node answered the shipment: it took this process for a peer
                        received["status"] = "LINKED"
                        return received
        except TimeoutError:
            received["status"] = "TIMEOUT"
            return received
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            pass  # the node ended the call (a write after that says only "finished"); its status follows
        received["status"] = (await call.code()).name
        received["details"] = await call.details()
        received["trailing"] = str(await call.trailing_metadata())
    return received


if __name__ == "__main__":
    print(json.dumps(asyncio.run(attempt(json.loads(sys.argv[1])))), flush=True)
