"""Changes to a tenant's data, as the sandbox's change feed records them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ACTIONS = ("created", "updated", "deleted")


@dataclass(frozen=True)
class ChangeEvent:
    seq: int
    time: str  # RFC 3339
    type: str  # created | updated | deleted, or a new kind an evolved tenant announces
    collection: str
    id: Any
    by: str = "harness"  # "harness" (control API, scripted faults) or "api" (a client: the connector)
    record: Mapping[str, Any] | None = None  # after the change; None for deletions

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeEvent:
        return cls(
            seq=int(data["seq"]),
            time=str(data.get("time", "")),
            type=str(data["type"]),
            collection=str(data["collection"]),
            id=data["id"],
            by=str(data.get("by", "harness")),
            record=data.get("record"),
        )

    @property
    def key(self) -> tuple[str, Any]:
        return self.collection, self.id

    @property
    def by_harness(self) -> bool:
        return self.by == "harness"


# Creation-time fields: an edit of a record leaves them alone (the overlay) and a replica's copy
# is not judged stale for them (the checks).
CREATED_NAMES = ("created_at", "created", "createdAt")


def singular(collection: str) -> str:
    """contacts -> contact, companies -> company: how event types (`contact.created`) name a collection."""
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    return collection[:-1] if collection.endswith("s") else collection


def last_kinds(changes: Iterable[ChangeEvent]) -> dict[str, dict[Any, str]]:
    """collection -> id -> the last kind of change it had; a record created and then updated is
    still `created` (to a replica it is a new record)."""
    out: dict[str, dict[Any, str]] = {}
    for change in changes:
        kinds = out.setdefault(change.collection, {})
        if not (kinds.get(change.id) == "created" and change.type == "updated"):
            kinds[change.id] = change.type
    return out
