"""Event bodies in the contract's own shape, carrying a record.

The default is `{type, timestamp, data: record}`. A contract whose event schema says otherwise
(Stripe's `{id, object: "event", created, type, data: {object: record}, ...}`) gets its shape: the
record where `data` (or `data.object`) holds it, the event type and time in their fields, an `id`
of its own, and every other required field filled with the plainest value its schema allows.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from harness.contract import Contract
from harness.contract.schema import schema_type, validator_for

TYPE_NAMES = ("type", "event", "event_type", "eventType")
TIME_NAMES = ("timestamp", "created", "created_at", "createdAt", "occurred_at", "time")
HOLDER_NAMES = ("object", "record", "resource", "payload")


def event_body(contract: Contract, schema_uri: str | None, event_type: str, record: Any) -> dict[str, Any]:
    """A body for one event of `event_type` about `record` that its schema (when given) accepts,
    where such a shape can be found; the default shape otherwise (the caller checks it)."""
    default = {"type": event_type, "timestamp": _iso_now(), "data": record}
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
            body[name] = _moment(prop)
        elif name == "data":
            body[name] = _holding(contract, prop, prop_uri, record)
        elif name == "id" and "string" in schema_type(prop):
            body[name] = "evt_" + secrets.token_hex(12)  # each event its own (receivers dedup by it)
        elif name in required:
            body[name] = plainest(contract, prop, prop_uri)
    return body


def _holding(contract: Contract, schema: dict[str, Any], uri: str, record: Any) -> Any:
    """The record itself where `data` takes it, else `{object: record, ...}` (one level down)."""
    if validator_for(contract, uri).is_valid(record):
        return record
    props = _properties(schema)
    holder = next((name for name in HOLDER_NAMES if name in props), None)
    if holder is None:
        return record
    out: dict[str, Any] = {holder: record}
    for name in schema.get("required") or ():
        if name != holder and name in props:
            prop, prop_uri = contract.deref(props[name], f"{uri}/properties/{name}")
            out[name] = plainest(contract, prop, prop_uri)
    return out


def plainest(contract: Contract, schema: Any, uri: str, depth: int = 0) -> Any:
    """The plainest value the schema allows: its const, first enum value, default, null, or the
    empty value of its type (an object with its required fields, each the plainest too)."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key] and depth < 4:
            first, first_uri = contract.deref(schema[key][0], f"{uri}/{key}/0")
            return plainest(contract, first, first_uri, depth + 1)
    kinds = schema_type(schema)
    if "null" in kinds or schema.get("nullable"):
        return None
    if "boolean" in kinds:
        return False
    if kinds & {"integer", "number"}:
        low = schema.get("minimum")
        return int(low) if isinstance(low, int | float) and not isinstance(low, bool) else 0
    if "string" in kinds:
        if schema.get("format") == "date-time":
            return _iso_now()
        least = schema.get("minLength")
        return "x" * least if isinstance(least, int) else ""
    if "array" in kinds:
        return []
    props = _properties(schema)
    out = {}
    for name in schema.get("required") or ():
        if name in props and depth < 4:
            prop, prop_uri = contract.deref(props[name], f"{uri}/properties/{name}")
            out[name] = plainest(contract, prop, prop_uri, depth + 1)
    return out


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    found = schema.get("properties")
    return found if isinstance(found, dict) else {}


def _moment(schema: dict[str, Any]) -> Any:
    kinds = schema_type(schema)
    return int(time.time()) if kinds & {"integer", "number"} else _iso_now()


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
