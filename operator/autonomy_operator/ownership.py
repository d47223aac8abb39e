"""Whose object is it: the operator writes, and deletes, only the children it created for a zone.

A child is the zone's when one of its ownerReferences carries the Zone's uid (the operator sets it on
every child, and garbage collection deletes the child with the Zone). Anything else under a child's
name is someone else's object: applying to it would adopt it (server-side apply merges into what is
there, so a ServiceAccount, a Role or a Service would raise no conflict) and the Zone's deletion would
take it away. Objects still owned by an earlier Zone of the same name are on their way out (the
garbage collector deletes them once it sees that owner gone): they are waited for, not adopted.

Pure: live objects in, a verdict out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = ["Ownership", "collision_message", "ownership_of"]

ZONE_GROUP = "autonomy.computer"


class Ownership(enum.Enum):
    ABSENT = "absent"  # nothing has the name: the zone may create it
    OURS = "ours"  # created for this very Zone
    LEAVING = "leaving"  # being deleted, or left by an earlier Zone of this name: wait for it to go
    FOREIGN = "foreign"  # someone else's: never written, never deleted


def ownership_of(live: Mapping[str, Any] | None, zone_uid: str, zone_name: str) -> Ownership:
    if live is None:
        return Ownership.ABSENT
    meta = live.get("metadata") or {}
    owners = [r for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]
    if any(r.get("uid") == zone_uid for r in owners):
        return Ownership.LEAVING if meta.get("deletionTimestamp") else Ownership.OURS
    earlier_zone = bool(owners) and all(
        r.get("kind") == "Zone"
        and str(r.get("apiVersion", "")).startswith(f"{ZONE_GROUP}/")
        and r.get("name") == zone_name
        for r in owners
    )
    return Ownership.LEAVING if earlier_zone or meta.get("deletionTimestamp") else Ownership.FOREIGN


def collision_message(names: list[tuple[str, str]]) -> str:
    """The NameCollision message for (kind, name) pairs taken by objects this zone did not create."""
    taken = ", ".join(f"{kind} {name!r}" for kind, name in names)
    verb = "exists" if len(names) == 1 else "exist"
    that = "that object" if len(names) == 1 else "those objects"
    return (
        f"{taken} already {verb} and {'does' if len(names) == 1 else 'do'} not belong to this zone; nothing "
        f"of the zone was written (rename the zone or the pod; or delete {that}, then change the zone to retry)"
    )
