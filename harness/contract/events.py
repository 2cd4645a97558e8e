"""Event bodies in the contract's own shape, carrying a record: one builder for the sandbox's
own deliveries and for the checks' crafted ones, so both send what the contract describes.

The default is `{type, timestamp, data: record}`. A contract whose event schema says otherwise
(Stripe's `{id, object: "event", created, type, data: {object: record}, ...}`) gets its shape: the
record where `data` (or `data.object`) holds it, the event type and time in their fields, an `id`
of its own, and every other required field filled with the plainest value its schema allows.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from harness.contract.model import Contract
from harness.contract.plain import plainest
from harness.contract.schema import schema_type, validator_for

TYPE_NAMES = ("type", "event", "event_type", "eventType")
TIME_NAMES = ("timestamp", "created", "created_at", "createdAt", "occurred_at", "time")
HOLDER_NAMES = ("object", "record", "resource", "payload")

__all__ = ["deleted_data", "event_body", "event_schema"]


def event_schema(contract: Contract, event_type: str) -> str | None:
    """The URI of the JSON body schema the contract's `webhooks` give `event_type`, if any."""
    cache: dict[str, str | None] = contract.__dict__.setdefault("_event_schemas", {})
    if event_type not in cache:
        op = next((w for w in contract.webhooks if w.path == event_type and w.method == "POST"), None)
        cache[event_type] = op.body_media.get("application/json") if op else None
    return cache[event_type]


def event_body(
    contract: Contract,
    schema_uri: str | None,
    event_type: str,
    record: Any,
    when: datetime | None = None,
) -> dict[str, Any]:
    """A body for one event of `event_type` about `record`, happened `when` (default: now),
    that its schema (when given) accepts where such a shape can be found; the default shape
    otherwise (the caller checks it)."""
    moment = when or datetime.now(UTC)
    default = {"type": event_type, "timestamp": _iso(moment), "data": record}
    if schema_uri is None or validator_for(contract, schema_uri).is_valid(default):
        return default
    schema, uri = contract.deref({"$ref": schema_uri}, schema_uri)
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return default
    body: dict[str, Any] = {}
    required = set(schema.get("required") or ())
    for name, node in schema["properties"].items():
        prop, prop_uri = contract.deref(node, f"{uri}/properties/{name}")
        if not isinstance(prop, dict):
            continue
        if name in TYPE_NAMES:
            body[name] = event_type
        elif name in TIME_NAMES:
            unix = bool(schema_type(prop) & {"integer", "number"})
            body[name] = int(moment.timestamp()) if unix else _iso(moment)
        elif name == "data":
            body[name] = _holding(contract, prop, prop_uri, record)
        elif name == "id" and "string" in schema_type(prop):
            body[name] = "evt_" + secrets.token_hex(12)  # each event its own (receivers dedup by it)
        elif name in required:
            body[name] = plainest(contract, prop, prop_uri)
    return body


def deleted_data(
    contract: Contract,
    collection: str,
    schema_uri: str | None,
    event_type: str,
    record_id: Any,
    last: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a deleted event carries: the record's id alone where the schema takes that, else the
    whole record (Stripe's deleted events do): `last`, its state before the deletion, when known,
    or the plainest record of the collection with that id."""
    col = contract.collections[collection]
    minimal = {col.id_field: record_id}
    if schema_uri is None:
        return minimal
    if validator_for(contract, schema_uri).is_valid(event_body(contract, schema_uri, event_type, minimal)):
        return minimal
    if last is not None:
        return last
    tombstone = plainest(contract, col.item_schema, col.item_schema_uri)
    return {**(tombstone if isinstance(tombstone, dict) else {}), col.id_field: record_id}


def _holding(contract: Contract, schema: dict[str, Any], uri: str, record: Any) -> Any:
    """The record itself where `data` takes it, else `{object: record, ...}` (one level down)."""
    if validator_for(contract, uri).is_valid(record):
        return record
    found = schema.get("properties")
    props = found if isinstance(found, dict) else {}
    holder = next((name for name in HOLDER_NAMES if name in props), None)
    if holder is None:
        return record
    out: dict[str, Any] = {holder: record}
    for name in schema.get("required") or ():
        if name != holder and name in props:
            out[name] = plainest(contract, props[name], f"{uri}/properties/{name}")
    return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
