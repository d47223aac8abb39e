"""Discovery: which nodes are in this zone, and where to reach them.

Two backends with the same shape: `kubernetes` (a label-selector list and watch of the zone's pods)
inside a cluster, and `local` (a registry directory shared by the node processes of one machine) for
tests and `autonomy zone dev`.
"""

from autonomy.discovery.base import NodeInfo, matches_filter
from autonomy.discovery.local import LocalDiscovery

__all__ = ["LocalDiscovery", "NodeInfo", "matches_filter"]
