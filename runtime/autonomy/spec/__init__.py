"""The shape of a zone and of a cluster, as pure data: `autonomy.yaml`, `Zone` and `Cluster`.

The CLI validates `autonomy.yaml` here; the operator generates its CRDs from the same models. This
package imports nothing of the runtime (it sits at the bottom of the layers, beside `errors`).

    spec = load_zone("autonomy.yaml")        # or parse_zone(dict); raises ZoneConfigError
    spec.zone_manifest("default")            # the Zone custom resource
"""

from autonomy.spec import rules
from autonomy.spec.cluster import SIZES, ClusterSpec, Resources, SizeOverride
from autonomy.spec.load import ZoneConfigError, load_zone, parse_zone
from autonomy.spec.zone import API_VERSION, GROUP, ContainerSpec, EnvVar, PodSpec, Size, ZoneSpec, secret_name

__all__ = [
    "API_VERSION",
    "GROUP",
    "SIZES",
    "ClusterSpec",
    "ContainerSpec",
    "EnvVar",
    "PodSpec",
    "Resources",
    "Size",
    "SizeOverride",
    "ZoneConfigError",
    "ZoneSpec",
    "load_zone",
    "parse_zone",
    "rules",
    "secret_name",
]
