"""The cluster: one per Kubernetes cluster, holding what every zone in it shares.

`Cluster.spec` sets where zones are served (`domain`, `ingressClassName`), where local images come
from (`imageRegistry`) and may override the size table; its status carries the `clusterId` the
operator generates once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SIZES", "ClusterSpec", "Resources", "SizeOverride"]

_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"
Quantity = Annotated[str, Field(pattern=_QUANTITY, max_length=32)]


class Resources(BaseModel):
    """CPU and memory of one clone of a pod, shared by its containers (Kubernetes quantities)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: Quantity = Field(description="CPU of one clone, e.g. `250m` or `4`.")
    memory: Quantity = Field(description="Memory of one clone, e.g. `256Mi` or `2Gi`.")


#: The size table (docs/design.md section 3), per clone of a pod.
SIZES: dict[str, Resources] = {
    "regular": Resources(cpu="250m", memory="256Mi"),
    "big": Resources(cpu="4", memory="2Gi"),
}


class SizeOverride(BaseModel):
    """Replacements for entries of the size table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regular: Resources | None = Field(
        default=None, description="Resources of size `regular` (default 250m, 256Mi)."
    )
    big: Resources | None = Field(default=None, description="Resources of size `big` (default 4 CPU, 2Gi).")


class ClusterSpec(BaseModel):
    """Settings shared by every zone of the cluster."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    domain: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        description="DNS domain for zone URLs: a public pod is served at "
        "https://<clusterId>-<zone>.<domain>. "
        "Without it, public pods get a Service but no Ingress.",
    )
    ingress_class_name: str | None = Field(
        default=None,
        alias="ingressClassName",
        max_length=253,
        description="IngressClass of the zones' Ingresses (the cluster's default class when absent).",
    )
    image_registry: str | None = Field(
        default=None,
        alias="imageRegistry",
        max_length=253,
        description="Registry prefix for local images "
        "(an image without '/' becomes <imageRegistry>/<image>).",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None,
        alias="imagePullPolicy",
        description="Default pull policy for containers that set none.",
    )
    sizes: SizeOverride = Field(default_factory=SizeOverride, description="Overrides of the size table.")

    def resources(self, size: str) -> Resources:
        """Resources of one clone of a pod of `size`, with this cluster's overrides."""
        override = getattr(self.sizes, size, None)
        return override if isinstance(override, Resources) else SIZES[size]
