"""A record's links to itself: fields the platform fills with the record's own URL.

The sandbox sets them to where it serves the record (its origin, its path), so they are the
platform's address for the record, not customer data: the checks compare replicas with them left
out, and the sandbox reads the same names to fill them.
"""

from __future__ import annotations

from typing import Any

from harness.contract.collections import Collection, envelope_properties
from harness.contract.model import Contract

SELF_NAMES = ("url", "href", "self", "self_link", "selfLink")
LINK_HOLDERS = ("_links", "links", "_metadata", "metadata", "meta")


def writable(contract: Contract, col: Collection) -> frozenset[str]:
    """The top-level fields a create or update of the collection sends (a webhook's target `url`
    is the client's data, not a link)."""
    cache = contract.__dict__.setdefault("_writable_fields", {})
    if col.name not in cache:
        names: set[str] = set()
        for op in (col.create_op, col.update_op):
            for uri in op.body_media.values() if op else ():
                if uri:
                    schema = contract.deref({"$ref": uri}, contract.uri)[0]
                    names |= set(envelope_properties(contract, schema, uri))
        cache[col.name] = frozenset(names)
    return cache[col.name]


def without_self_links(contract: Contract, col: Collection, record: Any) -> Any:
    """The record without the links to itself the platform fills (see module doc)."""
    if not isinstance(record, dict):
        return record
    written = writable(contract, col)
    out = {
        k: v for k, v in record.items() if not (k in SELF_NAMES and k not in written and isinstance(v, str))
    }
    for holder in LINK_HOLDERS:
        links = out.get(holder)
        if isinstance(links, dict) and holder not in written and isinstance(links.get("self"), str):
            out[holder] = {k: v for k, v in links.items() if k != "self"}
    return out
