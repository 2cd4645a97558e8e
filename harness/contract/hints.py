"""The `x-sandbox` hints the collection inference reads, checked against the contract they sit in.

A hint that names nothing (`{data: entries}` where the list has no `entries` array, `{id: nosuch}`)
silently changes what the sandbox serves, so every check then fails for the contract's sake, not
the connector's. These functions name such hints, with their pointer and the fix, before any
sandbox starts; `harness contract lint` and the certification start-up both use them.
"""

from __future__ import annotations

import difflib
from typing import Any

from harness.contract.errors import Problem
from harness.contract.model import Contract
from harness.contract.pointer import escape

HINT = "x-sandbox"
# What harness.contract.collections reads, on a list GET or its item schema (merged, the list's win).
COLLECTION_KEYS = ("collection", "feed", "data", "id", "updated_at", "since", "pagination")
PAGINATION_KEYS = ("style", "limit", "has_more", "after", "before", "cursor", "next", "offset", "page")
PAGINATION_PARAMS = ("limit", "after", "before", "cursor", "offset", "page")  # query parameters
STYLES = ("cursor", "id", "offset", "page", "none")


def malformed_hints(contract: Contract) -> list[Problem]:
    """`x-sandbox` values that are not mappings anywhere in the document: inference cannot read them."""
    out: list[Problem] = []

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                at = f"{pointer}/{escape(str(key))}"
                if key == HINT and not isinstance(value, dict):
                    out.append(
                        Problem(
                            at,
                            f"`x-sandbox` is {type(value).__name__} {value!r}, not a mapping of hints",
                            "write the hints as a mapping, "
                            "e.g. `x-sandbox: {id: sku, updated_at: modified_at}`",
                        )
                    )
                else:
                    walk(value, at)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(contract.document, "")
    return out


def hint_problems(contract: Contract) -> list[Problem]:
    """Hints on list GETs and item schemas that name no field, parameter or style the contract has.
    Call it only when `malformed_hints` found nothing (the collections cannot be inferred otherwise)."""
    out: list[Problem] = []
    for col in contract.collections.values():
        op_hints = col.list_op.extensions.get(HINT, {})
        at = f"{col.list_op.pointer}/{HINT}"
        props = list(col.item_schema.get("properties", {}))
        params = [p.name for p in col.list_op.parameters if p.location == "query"]
        hints = {**col.item_schema.get(HINT, {}), **op_hints}
        for key, kind, known in (("id", "field", props), ("updated_at", "field", props)):
            value = hints.get(key)
            if value is not None and value not in known:
                out.append(_names_nothing(at, key, value, f"a {col.name} record {kind}", known))
        since = hints.get("since")
        if since is not None and since not in params:
            out.append(_names_nothing(at, "since", since, f"a query parameter of {col.list_op}", params))
        pagination = hints.get("pagination", {})
        if not isinstance(pagination, dict):
            out.append(
                Problem(
                    f"{at}/pagination",
                    f"`pagination` is {pagination!r}, not a mapping",
                    "e.g. `x-sandbox: {pagination: {style: cursor, cursor: token, next: next_token}}`",
                )
            )
            continue
        style = pagination.get("style")
        if style is not None and style not in STYLES:
            out.append(
                Problem(
                    f"{at}/pagination/style",
                    f"paging style {style!r} is not one the sandbox serves",
                    f"use one of {', '.join(STYLES)}",
                )
            )
        for key in PAGINATION_PARAMS:
            value = pagination.get(key)
            if value is not None and value not in params:
                out.append(
                    _names_nothing(
                        f"{at}/pagination", key, value, f"a query parameter of {col.list_op}", params
                    )
                )
    for op in contract.operations:
        data = op.extensions.get(HINT, {}).get("data")
        if (
            data is not None
            and op.method == "GET"
            and not any(c.list_op is op for c in contract.collections.values())
        ):
            out.append(
                Problem(
                    f"{op.pointer}/{HINT}/data",
                    f"`data: {data}` names no array of records in {op}'s response, so it is no collection",
                    "name the response property that holds the array of records, or remove the hint",
                )
            )
    return out


def unknown_hint_keys(contract: Contract) -> list[Problem]:
    """Keys of a list GET's `x-sandbox` that inference does not read (a typo is ignored silently)."""
    out = []
    for col in contract.collections.values():
        hints = col.list_op.extensions.get(HINT, {})
        for key in hints:
            if key not in COLLECTION_KEYS:
                close = difflib.get_close_matches(key, COLLECTION_KEYS, n=1)
                out.append(
                    Problem(
                        f"{col.list_op.pointer}/{HINT}/{escape(key)}",
                        f"the sandbox reads no hint {key!r} on a list operation",
                        f"did you mean {close[0]!r}?"
                        if close
                        else f"known hints: {', '.join(COLLECTION_KEYS)}",
                    )
                )
    return out


def _names_nothing(at: str, key: str, value: Any, what: str, known: list[str]) -> Problem:
    close = difflib.get_close_matches(str(value), known, n=1)
    fix = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(known) or '(none)'}"
    return Problem(f"{at}/{key}", f"`{key}: {value}` is not {what}", fix)
