"""Infer collections: a list operation and an item operation over one schema.

`/things` + `/things/{id}` make the collection `things`. The id, updated-at and paging fields
are inferred from names and formats; `x-sandbox` hints on the item schema or the list operation
say what cannot be inferred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.contract.model import Operation
from harness.contract.schema import schema_type

if TYPE_CHECKING:
    from harness.contract.model import Contract

LIMIT_NAMES = ("limit", "per_page", "page_size", "pagesize", "count", "size")
CURSOR_NAMES = ("cursor", "page_token", "pagetoken", "starting_after", "after", "next")
OFFSET_NAMES = ("offset", "skip", "start")
PAGE_NAMES = ("page", "page_number", "pagenumber")
UPDATED_NAMES = ("updated_at", "modified_at", "updatedAt", "modifiedAt", "last_modified", "updated")


@dataclass(frozen=True)
class Pagination:
    """How a list operation pages: `cursor`, `offset`, `page` or `none`."""

    style: str
    limit_param: str | None = None
    default_limit: int | None = None
    max_limit: int | None = None
    cursor_param: str | None = None
    next_field: str | None = None
    offset_param: str | None = None
    page_param: str | None = None
    has_more_field: str | None = None


@dataclass(frozen=True)
class Collection:
    name: str
    list_op: Operation
    item_op: Operation
    item_schema_uri: str
    item_schema: dict[str, Any]
    id_field: str
    id_schema: dict[str, Any]
    updated_field: str | None
    data_field: str | None  # the list response's array property (None: the body is the array)
    pagination: Pagination
    since_param: str | None
    create_op: Operation | None = None
    update_op: Operation | None = None
    delete_op: Operation | None = None

    @property
    def read_scopes(self) -> frozenset[str]:
        return self.list_op.scopes | self.item_op.scopes

    @property
    def id_prefix(self) -> str | None:
        """`con_` for ids with pattern `^con_...`; used for making and recognising ids."""
        pattern = str(self.id_schema.get("pattern", ""))
        head = pattern.lstrip("^").split("[")[0].split("(")[0]
        return head or None


def infer_collections(contract: Contract) -> list[Collection]:
    ops = contract.operations
    by_key = {(op.method, op.path): op for op in ops}
    out = []
    for op in ops:
        if op.method != "GET" or op.path.endswith("}") or op.extensions.get("x-sandbox", {}).get("feed"):
            continue
        item_op = next((o for o in ops if o.method == "GET" and _is_item_of(o.path, op.path)), None)
        if item_op is None:
            continue
        found = _list_shape(contract, op)
        if found is None:
            continue
        data_field, item_uri, item_schema = found
        hints = {**item_schema.get("x-sandbox", {}), **op.extensions.get("x-sandbox", {})}
        props = item_schema.get("properties", {})
        id_param = item_op.path.rsplit("{", 1)[1].rstrip("}")
        id_field = hints.get("id") or ("id" if "id" in props else id_param if id_param in props else "id")
        updated = hints.get("updated_at") or next((n for n in UPDATED_NAMES if n in props), None)
        name = hints.get("collection") or op.path.rstrip("/").rsplit("/", 1)[-1]
        out.append(
            Collection(
                name=name,
                list_op=op,
                item_op=item_op,
                item_schema_uri=item_uri,
                item_schema=item_schema,
                id_field=id_field,
                id_schema=contract.deref(props.get(id_field, {}), item_uri)[0],
                updated_field=updated,
                data_field=data_field,
                pagination=_pagination(contract, op, hints),
                since_param=_since_param(op),
                create_op=by_key.get(("POST", op.path)),
                update_op=by_key.get(("PATCH", item_op.path)) or by_key.get(("PUT", item_op.path)),
                delete_op=by_key.get(("DELETE", item_op.path)),
            )
        )
    return out


def find_feed(contract: Contract) -> Operation | None:
    """The change-feed operation (`x-sandbox: {feed: true}`), if the contract has one."""
    return next((op for op in contract.operations if op.extensions.get("x-sandbox", {}).get("feed")), None)


def _is_item_of(path: str, list_path: str) -> bool:
    head, _, tail = path.rpartition("/")
    return head == list_path.rstrip("/") and tail.startswith("{") and tail.endswith("}")


def _ok_schema(contract: Contract, op: Operation) -> tuple[str, dict[str, Any]] | None:
    for status in ("200", "2XX"):
        response = op.responses.get(status)
        if response:
            for media, uri in response.media.items():
                if uri and "json" in media:
                    schema, real = contract.deref({"$ref": uri}, contract.uri)
                    return real, schema
    return None


def _list_shape(contract: Contract, op: Operation) -> tuple[str | None, str, dict[str, Any]] | None:
    found = _ok_schema(contract, op)
    if found is None:
        return None
    uri, schema = found
    if "array" in schema_type(schema):
        items, items_uri = contract.deref(schema.get("items", {}), f"{uri}/items")
        return None, items_uri, items
    for name, prop in schema.get("properties", {}).items():
        resolved, prop_uri = contract.deref(prop, f"{uri}/properties/{name}")
        if "array" in schema_type(resolved):
            items, items_uri = contract.deref(resolved.get("items", {}), f"{prop_uri}/items")
            return name, items_uri, items
    return None


def _pagination(contract: Contract, op: Operation, hints: dict[str, Any]) -> Pagination:
    params = {p.name: p for p in op.parameters if p.location == "query"}
    shape = _ok_schema(contract, op)
    props = shape[1].get("properties", {}) if shape else {}
    hint = hints.get("pagination", {})
    limit = hint.get("limit") or next((n for n in LIMIT_NAMES if n in params), None)
    limit_schema = params[limit].schema if limit in params else {}
    common = dict(
        limit_param=limit, default_limit=limit_schema.get("default"), max_limit=limit_schema.get("maximum")
    )
    cursor = hint.get("cursor") or next((n for n in CURSOR_NAMES if n in params), None)
    if cursor:
        nxt = hint.get("next") or next((n for n in props if "cursor" in n or n.startswith("next")), None)
        return Pagination("cursor", cursor_param=cursor, next_field=nxt, **common)
    offset = hint.get("offset") or next((n for n in OFFSET_NAMES if n in params), None)
    if offset:
        return Pagination("offset", offset_param=offset, **common)
    page = hint.get("page") or next((n for n in PAGE_NAMES if n in params), None)
    if page:
        more = hint.get("has_more") or next((n for n in props if "more" in n.lower()), None)
        return Pagination("page", page_param=page, has_more_field=more, **common)
    return Pagination("none", **common)


def _since_param(op: Operation) -> str | None:
    for p in op.parameters:
        if p.location == "query" and p.schema.get("format") == "date-time":
            return p.name
    return None
