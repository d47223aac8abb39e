"""The Docker commands of a pod: one sandbox holds the network namespace, containers join it."""

from pathlib import Path

from autonomy.cli.dev.plan import DevPod, DevProcess
from autonomy.cli.dev.sandbox import DockerRun

RUN = DockerRun(
    zone="z",
    run_id="r1",
    network="autonomy-dev-z-r1",
    pause_image="autonomy/node:t",
    registry_dir=Path("/tmp/reg"),
    owner=42,
    user="1000:1000",
)


def _process(name: str, image: str, registry: bool) -> DevProcess:
    return DevProcess(
        label=f"p/{name}",
        pod="p",
        container=name,
        clone=0,
        argv=["--flag"],
        cwd=None,
        env={"SECRET": "s3cr3t", "NODE": "z-p-0"},
        docker_image=image,
        docker_name=f"autonomy-dev-z-p-0-{name}-r1",
        sandbox="autonomy-dev-z-p-0-r1",
        mounts_registry=registry,
    )


def test_sandbox_owns_the_network_namespace_and_publishes_the_node_port() -> None:
    pod = DevPod(pod="p", clone=0, label="p", processes=[], sandbox="autonomy-dev-z-p-0-r1", http_port=8123)
    argv = RUN.sandbox_argv(pod)
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--network") + 1] == "autonomy-dev-z-r1"
    assert argv[argv.index("--publish") + 1] == "127.0.0.1:8123:8000"
    assert argv[-4:] == ["--entrypoint", "sleep", "autonomy/node:t", "infinity"]
    labels = {argv[i + 1] for i, a in enumerate(argv) if a == "--label"}
    assert {
        "autonomy.computer/dev-run=r1",
        "autonomy.computer/dev-owner=42",
        "autonomy.computer/zone=z",
        "autonomy.computer/pod=p",
    } == labels
    no_node = DevPod(pod="p", clone=1, label="p[1]", processes=[], sandbox="s", http_port=None)
    assert "--publish" not in RUN.sandbox_argv(no_node)


def test_containers_join_the_sandbox_and_secrets_stay_out_of_argv() -> None:
    argv, env = RUN.container_argv(_process("main", "autonomy-dev-z-main", registry=True), "172.30.0.2")
    assert argv[argv.index("--network") + 1] == "container:autonomy-dev-z-p-0-r1"
    assert argv[-2:] == ["autonomy-dev-z-main", "--flag"]
    assert env == {"SECRET": "s3cr3t", "NODE": "z-p-0", "POD_IP": "172.30.0.2"}
    assert "s3cr3t" not in " ".join(argv) and ["--env", "SECRET"] == argv[argv.index("SECRET") - 1 :][:2]
    assert argv[argv.index("--volume") + 1] == "/tmp/reg:/tmp/reg" and argv[argv.index("--user") + 1] == "1000:1000"
    sidecar, _ = RUN.container_argv(_process("web", "acme/web", registry=False), "172.30.0.2")
    assert "--volume" not in sidecar and "--user" not in sidecar  # an image's own user, as in a cluster
