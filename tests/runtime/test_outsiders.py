"""Nothing outside a zone gets in: outsiders dial a real node process over real gRPC and try to ship it a
worker whose unpickling writes a marker file (tests/runtime/outsider.py).

Each is refused, no marker appears, what the outsider receives names neither the zone nor the cluster
and holds no key material, and the node logs at most one bounded line about it. A peer of the zone
with a valid certificate succeeds in the same harness (the control: the marker appears), so a refusal
here is the node's doing, not a broken test.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from autonomy import Node
from autonomy.identity import WorkloadId, ZoneAuthority
from autonomy.identity.dev_authority import load_dev_authority

from .conftest import CLUSTER, NAMESPACE, ZONE, LocalZone, leaf

OUTSIDER = Path(__file__).with_name("outsider.py")
TARGET = "target"
MEMBER = "member"


@dataclass
class Attempt:
    received: dict
    raw: str
    log_lines: list[str]


class Scene:
    """A zone CA, the target node (a real process, its log in a file) and a member node in this process."""

    def __init__(self, zone: LocalZone, tmp_path: Path) -> None:
        self.zone = zone
        self.tmp = tmp_path
        self.authority = load_dev_authority(zone.ca_dir)
        self.log = tmp_path / "target.log"
        self.target = zone.start(TARGET, "runner-pod", stderr=self.log,
                                 extra_env={"AUTONOMY_LOG_LEVEL": "INFO"})
        self.ca_file = tmp_path / "zone-ca.pem"
        self.ca_file.write_bytes(self.authority.certificate_pem())  # a CA certificate is no secret
        self.address = ""

    def workload(self, node: str, zone: str = ZONE) -> WorkloadId:
        return WorkloadId(CLUSTER, NAMESPACE, zone, node)

    def attempt(self, name: str, claim: str, **credentials: object) -> Attempt:
        marker = self.tmp / f"marker-{name}"
        plan = {"target": self.address, "claim": claim, "marker": str(marker), "ca": str(self.ca_file),
                "server_name": self.workload(TARGET).dns_name, **credentials}
        before = self.log.read_text(errors="replace").splitlines()
        done = subprocess.run([sys.executable, str(OUTSIDER), json.dumps(plan)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        time.sleep(0.5)  # let the target write its log line
        after = self.log.read_text(errors="replace").splitlines()
        self.markers = getattr(self, "markers", {})
        self.markers[name] = marker
        return Attempt(json.loads(done.stdout.strip().splitlines()[-1]), done.stdout, after[len(before):])


@pytest.fixture
def scene(local_zone: LocalZone, tmp_path: Path) -> Scene:
    return Scene(local_zone, tmp_path)


def assert_tells_nothing(attempt: Attempt, scene: Scene) -> None:
    secrets = [CLUSTER, ZONE, scene.workload(TARGET).dns_name.split(".")[0], "-----BEGIN",
               scene.authority.key_pem().decode().splitlines()[1][:40]]
    for secret in secrets:
        assert secret not in attempt.raw, f"the outsider received {secret!r}: {attempt.raw}"
        for line in attempt.log_lines:
            assert secret not in line, f"the log line holds {secret!r}: {line}"
    assert all(len(line) < 400 for line in attempt.log_lines), attempt.log_lines


OUTSIDERS = ["no-certificate", "another-zones-ca", "impostor-ca-same-names", "same-ca-another-zone",
             "plaintext", "valid-certificate-claiming-another-node"]


@pytest.mark.parametrize("case", OUTSIDERS)
async def test_outsider_is_refused_runs_nothing_and_learns_nothing(scene: Scene, node_options: dict,
                                                                   case: str) -> None:
    async with Node.serve(name=MEMBER, **node_options) as member:
        info = await member._discovery.resolve(TARGET)
        assert info is not None
        scene.address = f"{info.host}:{info.port}"
        assert await member.send_and_receive("echo", "before", node=TARGET, timeout=10) == "echo:before"
        link = member._transport.link_if_open(TARGET)
        assert link is not None and link.identity == scene.workload(TARGET)  # a link of mutual TLS

        credentials: dict[str, object] = {}
        claim = "mallory"
        if case == "another-zones-ca":
            other = ZoneAuthority.create(CLUSTER, NAMESPACE, "otherzone")
            credentials = leaf(other, WorkloadId(CLUSTER, NAMESPACE, "otherzone", claim), scene.tmp / case)
        elif case == "impostor-ca-same-names":  # a CA of its own that names this very zone
            impostor = ZoneAuthority.create(CLUSTER, NAMESPACE, ZONE)
            credentials = leaf(impostor, scene.workload(claim), scene.tmp / case)
        elif case == "same-ca-another-zone":  # the zone's own CA key, signing for another zone
            skewed = ZoneAuthority(scene.authority.key, scene.authority.certificate, CLUSTER, NAMESPACE, "otherzone")
            credentials = leaf(skewed, WorkloadId(CLUSTER, NAMESPACE, "otherzone", claim), scene.tmp / case)
        elif case == "plaintext":
            credentials = {"plaintext": True}
        elif case == "valid-certificate-claiming-another-node":
            credentials = leaf(scene.authority, scene.workload(claim), scene.tmp / case)
            claim = MEMBER  # and it asks to replace the member's link

        attempt = scene.attempt(case, claim, **credentials)

        # UNAVAILABLE: the TLS handshake failed; PERMISSION_DENIED "refused": refused after it (or INTERNAL,
        # when gRPC ends the outsider's call while its shipment is still being written).
        assert attempt.received["status"] in ("UNAVAILABLE", "PERMISSION_DENIED", "INTERNAL"), attempt.received
        assert attempt.received["frames"] == [], attempt.received  # not even a hello came back
        if attempt.received["status"] == "PERMISSION_DENIED":
            assert attempt.received["details"] == "refused"
        assert not scene.markers[case].exists(), "the outsider's pickled code ran on the node"
        assert_tells_nothing(attempt, scene)
        refusals = [line for line in attempt.log_lines if "refused" in line]
        if case in ("same-ca-another-zone", "valid-certificate-claiming-another-node"):
            # Past the TLS handshake: exactly one line of ours saying why.
            assert len(refusals) == 1, attempt.log_lines
            assert len(attempt.log_lines) == 1, attempt.log_lines
        else:
            # Refused by the TLS handshake itself: nothing of ours; gRPC logs at most one line.
            assert refusals == [] and len(attempt.log_lines) <= 1, attempt.log_lines

        # The member's link was neither replaced nor dropped; the target serves the zone as before.
        assert scene.target.alive()
        assert await member.send_and_receive("echo", "after", node=TARGET, timeout=10) == "echo:after"
        assert member._transport.link_if_open(TARGET) is link


async def test_control_a_node_of_the_zone_can_ship_in_the_same_harness(scene: Scene, node_options: dict) -> None:
    async with Node.serve(name=MEMBER, **node_options) as member:
        info = await member._discovery.resolve(TARGET)
        assert info is not None
        scene.address = f"{info.host}:{info.port}"
    credentials = leaf(scene.authority, scene.workload("mallory"), scene.tmp / "member")
    attempt = scene.attempt("control", "mallory", **credentials)
    assert attempt.received["status"] == "LINKED", attempt.received
    for _ in range(50):
        if scene.markers["control"].exists():
            break
        await asyncio.sleep(0.1)
    assert scene.markers["control"].exists()
