"""Serve collections: list pages (cursor, offset or page paging), single records, the feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from harness.contract import Collection, Contract, Violation
from harness.sandbox import cursors
from harness.sandbox.problems import json_response, problem
from harness.sandbox.tenants import Tenant

Query = dict[str, list[str]]
TOTAL_NAMES = ("total", "total_count", "count")


def list_records(col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str]) -> Response:
    ds = tenant.dataset
    pag = col.pagination
    limit = _int(query, pag.limit_param, pag.default_limit or 50)
    base = 0
    since = _one(query, col.since_param)
    if since:
        base = ds.first_changed_since(col.name, datetime.fromisoformat(since))
    size = ds.size(col.name)
    start = base
    if pag.style == "cursor" and _one(query, pag.cursor_param):
        try:
            start = int(cursors.decode(tenant.secret, col.name, _one(query, pag.cursor_param))["i"])
        except (cursors.InvalidCursor, KeyError, ValueError) as exc:
            return problem(400, str(exc), violations=[Violation(f"/query/{pag.cursor_param}", str(exc))])
    elif pag.style == "offset":
        start = base + _int(query, pag.offset_param, 0)
    elif pag.style == "page":
        start = base + (_int(query, pag.page_param, 1) - 1) * limit
    stop = min(start + limit, size)
    records = list(ds.records(col.name, start, stop))
    more = stop < size
    values = {
        "data": records,
        "next": cursors.encode(tenant.secret, col.name, {"i": stop}) if more else None,
        "has_more": more,
        "total": size - base,
        "offset": start - base,
        "page": _int(query, pag.page_param, 1) if pag.page_param else None,
        "limit": limit,
    }
    return json_response(
        _page_body(
            col.data_field,
            pag.next_field,
            pag.has_more_field,
            values,
            _list_properties(tenant.dataset.contract, col),
        )
    )


def get_record(col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str]) -> Response:
    record_id = next(iter(path_params.values()))
    index = tenant.dataset.index_of(col.name, record_id)
    if index is None:
        return problem(404, f"no {col.name} record with id {record_id!r}")
    return json_response(tenant.dataset.record(col.name, index))


def read_feed(contract: Contract, tenant: Tenant, query: Query, path_params: dict[str, str]) -> Response:
    """The change feed. Base data has no changes yet; writes (a later layer) append events."""
    position = 0
    cursor = _one(query, "cursor")
    if cursor:
        try:
            position = int(cursors.decode(tenant.secret, "feed", cursor)["seq"])
        except (cursors.InvalidCursor, KeyError, ValueError) as exc:
            return problem(400, str(exc), violations=[Violation("/query/cursor", str(exc))])
    return json_response(
        {
            "data": [],
            "next_cursor": cursors.encode(tenant.secret, "feed", {"seq": position}),
            "has_more": False,
        }
    )


def _page_body(
    data_field: str | None,
    next_field: str | None,
    more_field: str | None,
    values: dict[str, Any],
    properties: set[str],
) -> Any:
    if data_field is None:
        return values["data"]
    body: dict[str, Any] = {data_field: values["data"]}
    if next_field:
        body[next_field] = values["next"]
    if more_field:
        body[more_field] = values["has_more"]
    for name in properties - body.keys():
        if name in TOTAL_NAMES:
            body[name] = values["total"]
        elif name in ("offset", "skip", "start"):
            body[name] = values["offset"]
        elif name in ("page", "page_number") and values["page"] is not None:
            body[name] = values["page"]
        elif name in ("limit", "per_page", "page_size"):
            body[name] = values["limit"]
    return body


def _list_properties(contract: Contract, col: Collection) -> set[str]:
    cache = contract.__dict__.setdefault("_list_properties", {})
    if col.name not in cache:
        response = col.list_op.responses.get("200")
        uri = next((u for m, u in (response.media.items() if response else []) if u and "json" in m), None)
        schema = contract.deref({"$ref": uri}, contract.uri)[0] if uri else {}
        cache[col.name] = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
    return cache[col.name]


def _one(query: Query, name: str | None) -> str | None:
    if not name or not query.get(name):
        return None
    return query[name][-1]


def _int(query: Query, name: str | None, default: int) -> int:
    value = _one(query, name)
    return int(value) if value is not None and value.lstrip("-").isdigit() else default
