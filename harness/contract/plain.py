"""The plainest value a schema allows, for a required field nobody has a value for.

The sandbox fills such fields of its list envelopes with it (a `has_more: false`, an
`object: "list"`), the checks and the sandbox fill an event's (`livemode`, `pending_webhooks`): one
function, so both make the same values and both keep to the schema's const, enum, minimum,
minLength and nested required fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harness.contract.model import Contract
from harness.contract.schema import schema_type

DEPTH = 4  # nested objects filled this deep; a recursive schema stops there


def plainest(contract: Contract | None, schema: Any, uri: str = "", depth: int = 0) -> Any:
    """The schema's const, first enum value, default, null, or the least value of its type: 0
    or its minimum, "" or minLength x's, the time now for a date-time, [] or minItems plainest
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
            return plainest(contract, schema[key][0], f"{uri}/{key}/0", depth + 1)
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
