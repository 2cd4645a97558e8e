"""Query parameters as their OpenAPI `style` serializes them, read back into the values their
schemas describe.

A query string arrives as flat pairs; which pairs make one parameter, and how, is the
parameter's style: `deepObject` spreads an object over `name[key]=v` pairs (Jira's
`filter[updated_since]`, Stripe's `metadata[key]`), `pipeDelimited` and `spaceDelimited` join an
array into one value (`a|b|c`, `a b c`), `form` without explode joins it with commas (and an
object as `k,v,k,v`), `form` with explode repeats the name for an array and spreads an object's
properties as pairs of their own. SDKs also send arrays as `name[]=a&name[]=b` (Stripe's
`expand[]`), which is read as the array it means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.contract.bodies import nest
from harness.contract.model import Operation, Parameter
from harness.contract.schema import schema_type

DELIMITERS = {"pipeDelimited": "|", "spaceDelimited": " "}
_BRACKETED = re.compile(r"^([^\[\]]+)\[")


def fold(op: Operation, query: Mapping[str, list[str]]) -> dict[str, Any]:
    """The query by parameter: a list of strings, or (an object) a dict of strings. Pairs no
    parameter claims keep their own name, so they are still reported as undeclared."""
    params = {p.name: p for p in op.parameters if p.location == "query"}
    out: dict[str, Any] = {}
    claimed: set[str] = set()
    for param in params.values():
        value, used = _read(param, query, params)
        if value is not None:
            out[param.name] = value
            claimed |= used
    for key, values in query.items():
        if key not in claimed and key not in out:
            out[key] = values
    return out


def _owner(key: str) -> str | None:
    """The parameter a bracketed key belongs to: `filter` for `filter[updated_since]`."""
    found = _BRACKETED.match(key)
    return found.group(1) if found else None


def _read(
    param: Parameter, query: Mapping[str, list[str]], params: dict[str, Parameter]
) -> tuple[Any, set[str]]:
    style, explode = param.serialized
    kinds = schema_type(param.schema)
    name = param.name
    bracketed = {k: v for k, v in query.items() if _owner(k) == name}
    if style == "deepObject" or ("object" in kinds and bracketed):
        if not bracketed:
            return None, set()
        folded = nest([(k, v) for k, values in bracketed.items() for v in values]).get(name)
        return (folded if isinstance(folded, (dict, list)) else None), set(bracketed)  # Stripe's expand[0]
    if "array" in kinds and f"{name}[]" in query:  # `expand[]=a&expand[]=b`
        return [*query.get(name, []), *query[f"{name}[]"]], {name, f"{name}[]"}
    raw = query.get(name)
    if "array" in kinds and raw is not None:
        delimiter = DELIMITERS.get(style) if not explode else None
        if style == "form" and not explode:
            delimiter = ","
        if delimiter:
            return [part for value in raw for part in value.split(delimiter)], {name}
        return raw, {name}
    if "object" in kinds and style == "form":
        if raw is not None and not explode:  # `id=role,admin,firstName,Alex`
            parts = raw[-1].split(",")
            return dict(zip(parts[::2], parts[1::2], strict=False)), {name}
        props = param.schema.get("properties")
        if explode and isinstance(props, dict):  # `role=admin&firstName=Alex`
            spread = {k: v[-1] for k, v in query.items() if k in props and k not in params and v}
            return (spread or None), set(spread)
    return raw, ({name} if raw is not None else set())
