"""Images for zones: the node base image, and each zone's local images built and made available.

The node base image (`images/node/Dockerfile`) installs the framework from wheels prepared on the
host with `pip wheel`, so no build ever needs network access or a registry's TLS from inside a
container. App images build on it (`FROM ${NODE_IMAGE}`, default `autonomy/node:<version>`).
Built app images are tagged by content (the image id), so a changed image changes the Zone's spec
and rolls out, and an unchanged one does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autonomy.cli import docker
from autonomy.cli.exits import CliError, Exit

NODE_IMAGE_REPO = "autonomy/node"
LOCAL_REGISTRY = "autonomy.local"  # the name images get when no registry is configured


def node_image_tag() -> str:
    """The node base image app images build on: $AUTONOMY_NODE_IMAGE, or autonomy/node:<version>."""
    from autonomy import __version__

    return os.environ.get("AUTONOMY_NODE_IMAGE") or f"{NODE_IMAGE_REPO}:{__version__}"


def source_root() -> Path | None:
    """The project's checkout when the framework is installed from one (editable install), else None."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "images" / "node" / "Dockerfile").exists():
            return parent
    return None


#: Optional extras every node image carries (see pyproject.toml).
NODE_EXTRAS = "postgres"


def build_wheels(target: Path, source: Path) -> None:
    """`pip wheel` the project and its dependencies into `target` (on the host, with its network/TLS).

    With the `postgres` extra, so that a node given a PostgreSQL AUTONOMY_DATABASE_URL runs as is."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(target), f"{source}[{NODE_EXTRAS}]"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CliError(
            "pip wheel of the autonomy framework failed",
            Exit.DOCKER,
            details=result.stderr.strip().splitlines()[-15:],
        )


def build_node_image(
    tag: str | None = None,
    *,
    base_image: str | None = None,
    wheels: Path | None = None,
    source: Path | None = None,
    no_cache: bool = False,
) -> str:
    """Build images/node/Dockerfile into `tag` (default autonomy/node:<version>) and return the tag."""
    tag = tag or node_image_tag()
    source = source or source_root()
    if source is None:
        raise CliError(
            f"the node base image {tag} is not in Docker and this installation has no images/node/Dockerfile",
            Exit.DOCKER,
            details=["build it from a checkout of the project: `make image-node`"],
        )
    with tempfile.TemporaryDirectory(prefix="autonomy-node-image-") as tmp:
        context = Path(tmp)
        shutil.copy(source / "images" / "node" / "Dockerfile", context / "Dockerfile")
        wheel_dir = context / "wheels"
        if wheels is not None:
            shutil.copytree(wheels, wheel_dir)
        else:
            build_wheels(wheel_dir, source)
        args = {"BASE_IMAGE": base_image} if base_image else {}
        docker.build(tag, context, build_args=args, no_cache=no_cache)
    return tag


@dataclass(frozen=True)
class BuiltImage:
    name: str  # the image name in autonomy.yaml (folder under images/)
    ref: str  # what the Zone's pods run


def build_zone_images(
    zone: str,
    images_dir: Path,
    names: list[str],
    *,
    registry: str | None,
    no_cache: bool = False,
    node_image: str | None = None,
) -> list[BuiltImage]:
    docker.require()
    node_image = node_image or node_image_tag()
    if not docker.image_exists(node_image):
        build_node_image(node_image)
    built = []
    for name in names:
        folder = images_dir / name
        if not (folder / "Dockerfile").exists():
            raise CliError(f"image {name!r}: {folder / 'Dockerfile'} does not exist", Exit.CONFIG)
        local = f"autonomy-build/{zone}-{name}:latest"
        docker.build(local, folder, build_args={"NODE_IMAGE": node_image}, no_cache=no_cache)
        digest = docker.image_id(local).split(":")[-1][:12]
        ref = f"{registry or LOCAL_REGISTRY}/{zone}-{name}:{digest}"
        docker.tag(local, ref)
        built.append(BuiltImage(name=name, ref=ref))
    return built


def planned_ref(zone: str, name: str, registry: str | None) -> str:
    """The reference a dry run shows (the real tag is the image id, known only after the build)."""
    return f"{registry or LOCAL_REGISTRY}/{zone}-{name}:<built>"
