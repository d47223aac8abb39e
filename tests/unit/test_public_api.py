"""The public face of `autonomy` is a promise: adding or removing a name must be deliberate."""

import autonomy

EXPECTED_CORE = {
    "AddressNotFound", "AutonomyError", "DeadlineExceeded", "DeliveryError", "HttpServer", "MailboxFull",
    "MessageTooLarge", "Node", "NodeDep", "NodeNotFound", "NodeSettings", "PeerGone", "PeerRejected",
    "RemoteError", "RemoteNode", "SpecError", "WebSocketNodeDep", "WorkerError", "Zone",
}


def test_core_names_are_exported():
    assert EXPECTED_CORE <= set(autonomy.__all__)


def test_all_is_sorted_unique_and_importable():
    assert autonomy.__all__ == sorted(set(autonomy.__all__))
    for name in autonomy.__all__:
        assert getattr(autonomy, name) is not None
