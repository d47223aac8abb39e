"""The image tier: real `docker build` and `docker run` (see tests/docker_engine.py)."""

from tests.docker_engine import docker_engine, node_image, wheelhouse

__all__ = ["docker_engine", "node_image", "wheelhouse"]
