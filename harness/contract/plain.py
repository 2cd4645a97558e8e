"""The plainest value a schema allows, for a required field nobody has a value for.

The sandbox fills such fields of its list envelopes with it (a `has_more: false`, an
`object: "list"`), the checks and the sandbox fill an event's (`livemode`, `pending_webhooks`): one
function, so both make the same values and both keep to the schema's const, enum, minimum,
minLength and nested required fields.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator

from harness.contract.model import Contract
from harness.contract.schema import schema_type

DEPTH = 4  # nested objects filled this deep; a recursive schema stops there
# The plainest value of each common string format (a pattern is the caller's to meet)
FORMATS = {
    "date": "1970-01-01",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


def plainest(contract: Contract | None, schema: Any, uri: str = "", depth: int = 0) -> Any:
    """The schema's const, first enum value, default, null, or the least value of its type: 0
    or its minimum, "" or minLength x's, a valid value of a common format (the time now for a
    date-time, user@example.com for an email), [] or minItems plainest
    items, an object with its required fields (each the plainest too). `contract` and `uri`
    follow `$ref`s; without them the schema is taken as already resolved."""
    if contract is not None and isinstance(schema, dict) and "$ref" in schema and depth <= DEPTH:
        schema, uri = contract.deref(schema, uri or contract.uri)
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key] and depth < DEPTH:
            return _branch(contract, key, schema[key], uri, depth)
    kinds = schema_type(schema)
    if "null" in kinds or schema.get("nullable"):
        return None
    if "boolean" in kinds:
        return False
    if kinds & {"integer", "number"}:
        low = schema.get("minimum")
        if isinstance(low, int | float) and not isinstance(low, bool):
            return int(low) if "integer" in kinds or float(low).is_integer() else low
        above = schema.get("exclusiveMinimum")
        if isinstance(above, int | float) and not isinstance(above, bool):
            return int(above) + 1
        return 0
    if "string" in kinds:
        if schema.get("format") == "date-time":
            return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if schema.get("format") in FORMATS:
            return FORMATS[schema["format"]]
        least = schema.get("minLength")
        return "x" * least if isinstance(least, int) else ""
    if "array" in kinds:
        least = schema.get("minItems")
        if isinstance(least, int) and least > 0 and depth < DEPTH:
            return [plainest(contract, schema.get("items"), f"{uri}/items", depth + 1)] * least
        return []
    if kinds and "object" not in kinds:
        return None
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    out = {}
    for name in schema.get("required") or ():
        if name in props and depth < DEPTH:
            out[name] = plainest(contract, props[name], f"{uri}/properties/{name}", depth + 1)
    return out


def _branch(contract: Contract | None, key: str, branches: list[Any], uri: str, depth: int) -> Any:
    """anyOf/oneOf: null where a branch allows it, else the first branch's plainest value that
    the branch accepts (an id pattern's "" does not), where that can be told; allOf: the first
    part's."""
    if key == "allOf":
        return plainest(contract, branches[0], f"{uri}/allOf/0", depth + 1)
    resolved = []
    for index, branch in enumerate(branches):
        at = f"{uri}/{key}/{index}"
        if contract is not None and isinstance(branch, dict) and "$ref" in branch:
            branch, at = contract.deref(branch, uri or contract.uri)
        if isinstance(branch, dict) and schema_type(branch) == {"null"}:
            return None
        resolved.append((branch, at))
    values = [plainest(contract, branch, at, depth + 1) for branch, at in resolved]
    for (branch, _), value in zip(resolved, values, strict=True):
        if _accepts(branch, value):
            return value
    return values[0]


def _accepts(schema: Any, value: Any) -> bool:
    """Whether a self-contained schema (no `$ref` in it) accepts the value; True when it cannot
    be told without the document around it."""
    if not isinstance(schema, dict) or "$ref" in json.dumps(schema, default=str):
        return True
    return bool(Draft202012Validator(schema).is_valid(value))
