"""Infer collections: a list operation and an item operation over one schema.

`/things` + `/things/{id}` make the collection `things`; `/networks/{networkId}/ssids` +
`/networks/{networkId}/ssids/{number}` make `ssids`, a nested collection whose record is named
by the last path parameter and scoped by the ones before it. Names come from the whole path:
where two lists end in the same segment (`/v1/accounts`, `/v1/financial_connections/accounts`)
the one with the shorter path keeps the bare name and the other is named by more of its path
(`financial_connections_accounts`).

Per collection the *shape* the contract documents is read too: which property of the list
response holds the array and which carry the paging state, how the list pages (opaque cursor,
record-id cursor, offset, page, `Link` header), and the status and body documented for
create, update and delete. Ids, updated-at and paging fields are inferred from names and
formats; `x-sandbox` hints on the item schema or the list operation say what cannot be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from harness.contract.model import Operation
from harness.contract.pointer import escape
from harness.contract.schema import schema_type

if TYPE_CHECKING:
    from harness.contract.model import Contract

LIMIT_NAMES = (
    "limit",
    "per_page",
    "page_size",
    "pagesize",
    "pageSize",
    "count",
    "size",
    "maxResults",
    "max_results",
)
CURSOR_NAMES = (
    "cursor",
    "page_token",
    "pagetoken",
    "pageToken",
    "next_token",
    "nextToken",
    "after",
    "next",
    "marker",
)
ID_CURSOR_NAMES = ("starting_after", "startingAfter", "after_id")
BEFORE_NAMES = ("ending_before", "endingBefore", "before_id")
OFFSET_NAMES = ("offset", "skip", "start", "startAt")
PAGE_NAMES = ("page", "page_number", "pagenumber", "pageNumber")
UPDATED_NAMES = ("updated_at", "modified_at", "updatedAt", "modifiedAt", "last_modified", "updated")
NEXT_NAMES = (
    "next_page_uri",
    "next_page_url",
    "next_cursor",
    "nextCursor",
    "next_page_token",
    "nextPageToken",
    "next_token",
    "nextToken",
    "next",
    "next_page",
    "nextPage",
    "cursor",
    "next_url",
)
MORE_NAMES = ("has_more", "hasMore", "has_next", "hasNext", "more")
META_NAMES = ("_metadata", "metadata", "meta", "response_metadata", "pagination", "paging", "links", "_links")
_PARAM = re.compile(r"^\{[^}]+\}(\.\w+)?$")
_ITEM = re.compile(r"^(?P<head>.*)/\{[^}/]+\}(?P<ext>\.(?:json|xml))?$")
_EXT = re.compile(r"\.(json|xml)$")


@dataclass(frozen=True)
class Pagination:
    """How a list operation pages.

    `style` is `cursor` (an opaque token the server hands out), `id` (the id of the last record
    seen: Stripe's `starting_after`), `offset`, `page` or `none`. `next_field` may be a dotted
    path into the envelope (`_metadata.next`); `link_header` says the next page is (also)
    announced in a `Link: <...>; rel="next"` header, as bare-array APIs such as GitHub do.
    """

    style: str
    limit_param: str | None = None
    default_limit: int | None = None
    max_limit: int | None = None
    cursor_param: str | None = None
    next_field: str | None = None
    offset_param: str | None = None
    page_param: str | None = None
    has_more_field: str | None = None
    before_param: str | None = None
    link_header: bool = False
    next_is_url: bool = False
    # The number of the first page (Twilio's `Page` starts at 0, GitHub's `page` at 1); with
    # `style` cursor, a `page_param` is the page number carried alongside the token (Twilio's
    # `Page` + `PageToken`).
    first_page: int = 1
    # Envelope fields (dotted) holding links to other pages than the next, by role: `first`,
    # `previous` or `last` (Twilio's `first_page_uri`, `previous_page_uri`; `meta.first_page_url`).
    links: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Written:
    """What a write operation documents for success: its status and the schema of its body."""

    status: int
    body_uri: str | None  # None: no body (e.g. 204)
    media: str | None = None


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
    id_param: str = "id"  # the item path's parameter that names the record (its last one)
    parent_params: tuple[str, ...] = ()  # the path parameters before it, which scope the record
    writes: dict[str, Written] = field(default_factory=dict)  # "create" | "update" | "delete"
    # Where records are read at another path than they are listed and created at (GitHub's
    # `POST /user/repos`, read at `/repos/{owner}/{repo}`): each item path parameter and the
    # record field (dotted) whose value it must equal. Empty: the last parameter is the id.
    key_fields: tuple[tuple[str, str], ...] = ()
    # The property one record is wrapped in, by where: `read`, `create`, `update` (the body each
    # documents for success) and `create_body`, `update_body` (the request body): Asana's
    # `{"data": {...}}`, Shopify's `{"customer": {...}}`. Absent: that body is the record itself.
    wrappers: dict[str, str] = field(default_factory=dict)

    @property
    def read_scopes(self) -> frozenset[str]:
        return self.list_op.scopes | self.item_op.scopes

    @property
    def id_prefix(self) -> str | None:
        """`con_` for ids with pattern `^con_...`; used for making and recognising ids."""
        pattern = str(self.id_schema.get("pattern", ""))
        head = pattern.lstrip("^").split("[")[0].split("(")[0].split("\\")[0]
        return head or None

    @property
    def nested(self) -> bool:
        return bool(self.parent_params)

    def status_of(self, write: str, default: int) -> int:
        found = self.writes.get(write)
        return found.status if found else default


def infer_collections(contract: Contract) -> list[Collection]:
    ops = contract.operations
    by_key = {(op.method, op.path): op for op in ops}
    items: dict[str, Operation] = {}  # list path the item belongs to -> item GET
    for op in ops:
        found = _ITEM.match(op.path.rstrip("/")) if op.method == "GET" else None
        if found:  # `/things/{id}` belongs to `/things`; Twilio's `/Calls/{Sid}.json` to `/Calls.json`
            items.setdefault(found["head"] + (found["ext"] or ""), op)
    collections: list[Collection] = []
    for op in ops:
        hints = op.extensions.get("x-sandbox", {})
        if op.method != "GET" or _ITEM.match(op.path.rstrip("/")) or hints.get("feed"):
            continue
        if hints.get("collection") is False:
            continue
        item_op = items.get(op.path.rstrip("/"))
        if item_op is None:
            continue
        shape = _list_shape(contract, op)
        if shape is None:
            continue
        collections.append(_collection(contract, op, item_op, shape, by_key))
    collections += _read_elsewhere(contract, ops, by_key, collections)
    return _named(contract, collections)


def _read_elsewhere(
    contract: Contract,
    ops: Sequence[Operation],
    by_key: dict[tuple[str, str], Operation],
    found: list[Collection],
) -> list[Collection]:
    """Collections whose records are read back at a path of their own: a list with a create
    and no item path under it, and a GET item path (not already some collection's) answering
    the very schema the create answers. `POST /user/repos` answers `full-repository`, as
    `GET /repos/{owner}/{repo}` does; the item's parameters name record fields (`owner.login`,
    `name`), which is how a record is found there."""
    taken = {c.item_op.path for c in found} | {c.list_op.path for c in found}
    reads: dict[str, Operation] = {}
    for op in ops:
        if op.method == "GET" and op.path not in taken and op.path.rstrip("/").endswith("}"):
            shape = _ok_schema(contract, op)
            if shape is not None and "array" not in schema_type(shape[1]):
                reads.setdefault(shape[0], op)
    out: list[Collection] = []
    for op in sorted(ops, key=lambda o: o.path.count("{")):  # `/user/repos` before `/orgs/{org}/repos`
        if op.method != "GET" or op.path in taken or _ITEM.match(op.path.rstrip("/")):
            continue
        create = by_key.get(("POST", op.path))
        written = documented_success(create) if create is not None else None
        if written is None or written.body_uri is None:
            continue
        answered = contract.deref({"$ref": written.body_uri}, contract.uri)
        item_op = reads.get(answered[1])
        if item_op is not None and item_op.path in taken:
            continue
        listed = _list_shape(contract, op) if item_op is not None else None
        if item_op is None or listed is None or not isinstance(answered[0], dict):
            continue
        keys = _key_fields(contract, item_op, answered[0], answered[1])
        if keys is None:
            continue
        col = _collection(contract, op, item_op, (listed[0], answered[1], answered[0]), by_key)
        out.append(replace(col, key_fields=keys, parent_params=()))  # its key fields place it
        taken.add(item_op.path)
    return out


KEY_NAMES = ("name", "slug", "login", "key", "id")
HOLDER_KEYS = ("login", "slug", "key", "name", "id")  # `{owner}` is the owner's login


def _key_fields(
    contract: Contract, item_op: Operation, schema: dict[str, Any], uri: str
) -> tuple[tuple[str, str], ...] | None:
    """Each path parameter of the item path and the record field it names: a field of its own
    name (or an object field of its name, by that object's `login`/`name`/`id`: `{owner}` is
    `owner.login`); the last parameter, the record itself, may be its `name`/`slug` (`{repo}`).
    None when one cannot be placed."""
    props = {n: p for n, (p, _) in envelope_properties(contract, schema, uri).items()}
    params = re.findall(r"\{([^}]+)\}", item_op.path)
    out = []
    for index, param in enumerate(params):
        keyable = {n: p for n, p in props.items() if _keyable(p)}
        name = _pick((param,), keyable)
        if name is None:
            holder = props.get(_pick((param,), props) or "")
            inner = holder.get("properties") if isinstance(holder, dict) else None
            if isinstance(inner, dict):
                sub = _pick(
                    HOLDER_KEYS, {n: p for n, p in inner.items() if _keyable(contract.deref(p, uri)[0])}
                )
                name = f"{_pick((param,), props)}.{sub}" if sub else None
        if name is None and index == len(params) - 1:
            name = _pick((*_tails(param)[1:], *KEY_NAMES), keyable)
        if name is None:
            return None
        out.append((param, name))
    return tuple(out)


def _collection(
    contract: Contract,
    op: Operation,
    item_op: Operation,
    shape: tuple[str | None, str, dict[str, Any]],
    by_key: dict[tuple[str, str], Operation],
) -> Collection:
    data_field, item_uri, item_schema = shape
    hints = {**item_schema.get("x-sandbox", {}), **op.extensions.get("x-sandbox", {})}
    # the record's properties, those of its `allOf` parts too (Asana's `TaskCompact` is
    # `allOf: [AsanaResource (gid), {name, ...}]`), resolved
    props = {n: p for n, (p, _) in envelope_properties(contract, item_schema, item_uri).items()}
    path_params = re.findall(r"\{([^}]+)\}", item_op.path)
    id_param = path_params[-1]
    keyable = {n: p for n, p in props.items() if _keyable(p)}
    id_field = hints.get("id") or _named_by(id_param, keyable) or "id"
    if id_field in props:
        id_schema = props[id_field]
    else:
        param = next((p for p in item_op.parameters if p.location == "path" and p.name == id_param), None)
        id_schema = param.schema if param else {}
    updated = hints.get("updated_at") or _pick(UPDATED_NAMES, props)
    create_op = by_key.get(("POST", op.path))
    update_op = (
        by_key.get(("PATCH", item_op.path))
        or by_key.get(("PUT", item_op.path))
        or by_key.get(("POST", item_op.path))
    )
    delete_op = by_key.get(("DELETE", item_op.path))
    writes = {
        kind: written
        for kind, write_op in (("create", create_op), ("update", update_op), ("delete", delete_op))
        if write_op is not None and (written := documented_success(write_op)) is not None
    }
    return Collection(
        name=str(hints.get("collection") or ""),
        list_op=op,
        item_op=item_op,
        item_schema_uri=item_uri,
        item_schema=item_schema,
        id_field=id_field,
        id_schema=id_schema if isinstance(id_schema, dict) else {},
        updated_field=updated,
        data_field=data_field,
        pagination=_pagination(contract, op, hints, data_field),
        since_param=hints.get("since") or _since_param(op),
        create_op=create_op,
        update_op=update_op,
        delete_op=delete_op,
        id_param=id_param,
        parent_params=tuple(path_params[:-1]),
        writes=writes,
        wrappers=_wrappers(
            contract, set(props), id_field, {"read": item_op, "create": create_op, "update": update_op}
        ),
    )


def _wrappers(
    contract: Contract, names: set[str], id_field: str, ops: dict[str, Operation | None]
) -> dict[str, str]:
    """Where one record travels wrapped (`Collection.wrappers`): per operation, the property of
    its success body, and of its JSON request body for writes, that holds the record."""
    out: dict[str, str] = {}
    for kind, op in ops.items():
        if op is None:
            continue
        written = documented_success(op)
        if written is not None and written.body_uri is not None:
            schema, uri = contract.deref({"$ref": written.body_uri}, contract.uri)
            holder = _holder(contract, schema, uri, names, id_field, answer=True)
            if holder:
                out[kind] = holder
        if kind != "read":
            body_uri = next((u for m, u in op.body_media.items() if u and "json" in m), None)
            if body_uri is not None:
                schema, uri = contract.deref({"$ref": body_uri}, contract.uri)
                holder = _holder(contract, schema, uri, names, id_field, answer=False)
                if holder:
                    out[f"{kind}_body"] = holder
    return out


def _holder(
    contract: Contract, schema: Any, uri: str, names: set[str], id_field: str, *, answer: bool
) -> str | None:
    """The one property of an object body that holds a record of the collection, where the
    body itself is not the record: none of its own properties is one of the record's, and the
    held object has at least half of the record's properties. An answer's holds the record's
    id; a request's does not require one (the record's id is the server's or the path's: an
    object requiring an id, Box's `assign_to: {type, id}`, names another record). None otherwise."""
    own = envelope_properties(contract, schema, uri)
    if not own or not names or set(own) & names:
        return None
    found = []
    for name, (resolved, prop_uri) in own.items():
        if not _is_record(resolved):
            continue
        inner = set(envelope_properties(contract, resolved, prop_uri))
        if answer and id_field not in inner:
            continue
        if not answer and id_field in envelope_required(contract, resolved, prop_uri):
            continue
        shared = inner & names
        if shared and 2 * len(shared) >= len(names):
            found.append(name)
    return found[0] if len(found) == 1 else None


def _named_by(param: str, props: dict[str, Any]) -> str | None:
    """The record property a path parameter names: the parameter itself (`{sku}`, Twilio's
    `{Sid}`), or what is left once the record's own name is taken off (GitHub's `{issue_number}`
    is the issue's `number`, `{secret_name}` its `name`, Asana's `{user_gid}` its `gid`), else
    the usual id names. Case and `_` do not matter."""
    return _pick((param, *_tails(param), "id", "sid", "gid", "uuid", "key"), props)


def _tails(param: str) -> list[str]:
    """A parameter name and its shorter endings by word: `issue_number` -> issuenumber, number."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", param)]
    return ["".join(words[n:]) for n in range(len(words))]


def _keyable(schema: Any) -> bool:
    """A property that can tell records apart: a string or number without a short enum."""
    if not isinstance(schema, dict):
        return False
    kinds = schema_type(schema)
    enum = schema.get("enum")
    return not (kinds & {"object", "array", "boolean"}) and not (isinstance(enum, list) and len(enum) < 1000)


def _named(contract: Contract, cols: list[Collection]) -> list[Collection]:
    """Give each collection a unique name from its path; hints (`x-sandbox: {collection}`) win.

    Shorter paths choose first, so `/v1/accounts` is `accounts` even when
    `/v1/financial_connections/accounts` exists; the longer one takes more of its path.
    """
    taken = {c.name for c in cols if c.name}
    named: dict[int, str] = {}
    order = sorted(
        range(len(cols)), key=lambda i: (cols[i].name == "", len(_literals(cols[i].list_op.path)), i)
    )
    for index in order:
        col = cols[index]
        if col.name:
            named[index] = col.name
            continue
        segments = _literals(col.list_op.path) or ["root"]
        name = None
        for size in range(1, len(segments) + 1):
            candidate = "_".join(segments[-size:])
            if candidate not in taken:
                name = candidate
                break
        if name is None:  # the same literal path twice (differently named parameters)
            name = "_".join(segments) + f"_{index}"
        taken.add(name)
        named[index] = name
    out = []
    for index, col in enumerate(cols):
        out.append(col if col.name == named[index] else replace(col, name=named[index]))
    return out


def _literals(path: str) -> list[str]:
    """The non-parameter segments of a path, cleaned for a name (`/v1/accounts` -> v1, accounts)."""
    out = []
    for segment in _EXT.sub("", path.strip("/")).split("/"):
        if segment and not _PARAM.match(segment):
            out.append(re.sub(r"[^A-Za-z0-9_]+", "_", segment).strip("_") or "x")
    return out


def documented_success(op: Operation) -> Written | None:
    """The success an operation documents: its lowest 2xx (201 before 200 only if so written)."""
    codes = sorted(s for s in op.responses if len(s) == 3 and s.startswith("2") and s.isdigit())
    if not codes:
        if "2XX" in op.responses:
            codes = ["2XX"]
        else:
            return None
    status = codes[0]
    response = op.responses[status]
    media, uri = next(
        ((m, u) for m, u in response.media.items() if u and "json" in m),
        next(iter(response.media.items()), (None, None)),
    )
    return Written(200 if status == "2XX" else int(status), uri, media)


def find_feed(contract: Contract) -> Operation | None:
    """The change-feed operation (`x-sandbox: {feed: true}`), if the contract has one."""
    return next((op for op in contract.operations if op.extensions.get("x-sandbox", {}).get("feed")), None)


def list_ok_schema(contract: Contract, op: Operation) -> tuple[str, dict[str, Any]] | None:
    """(URI, resolved schema) of the JSON body a list operation documents for success."""
    return _ok_schema(contract, op)


def _ok_schema(contract: Contract, op: Operation) -> tuple[str, dict[str, Any]] | None:
    for status in ("200", "2XX", "201", "206"):
        response = op.responses.get(status)
        if response:
            for media, uri in response.media.items():
                if uri and "json" in media:
                    schema, real = contract.deref({"$ref": uri}, contract.uri)
                    if isinstance(schema, dict):
                        return real, schema
    return None


def _list_shape(contract: Contract, op: Operation) -> tuple[str | None, str, dict[str, Any]] | None:
    """(array property or None for a bare array, item schema URI, item schema) of a list op."""
    found = _ok_schema(contract, op)
    if found is None:
        return None
    uri, schema = found
    hint = op.extensions.get("x-sandbox", {}).get("data")
    if "array" in schema_type(schema):
        items, items_uri = contract.deref(schema.get("items", {}), f"{uri}/items")
        return (None, items_uri, items) if _is_record(items) else None
    arrays = []
    for name, (resolved, prop_uri) in envelope_properties(contract, schema, uri).items():
        if isinstance(resolved, dict) and "array" in schema_type(resolved):
            items, items_uri = contract.deref(resolved.get("items", {}), f"{prop_uri}/items")
            if _is_record(items):
                arrays.append((name, items_uri, items))
    if hint:
        return next((a for a in arrays if a[0] == hint), None)
    # several arrays: the one called like data, else the first (Stripe's `data`, Zoom's `users`)
    preferred = ("data", "items", "results", "records", "entries", "values", "elements")
    return next((a for a in arrays if a[0] in preferred), arrays[0] if arrays else None)


def envelope_properties(
    contract: Contract, schema: Any, uri: str, *, unions: bool = False, depth: int = 0
) -> dict[str, tuple[Any, str]]:
    """A response object's properties, resolved, with those of its `allOf` parts merged in
    (DigitalOcean's lists are `allOf: [{droplets}, {links}, {meta}]`): name -> (schema, URI).
    With `unions`, also the fields any `anyOf`/`oneOf` branch may carry (DigitalOcean's
    `links.pages` is `anyOf` two `allOf`s of one link each), none overriding the others."""
    out: dict[str, tuple[Any, str]] = {}
    if not isinstance(schema, dict) or depth > 8:
        return out
    for index, part in enumerate(schema.get("allOf") or ()):
        resolved, part_uri = contract.deref(part, f"{uri}/allOf/{index}")
        out.update(envelope_properties(contract, resolved, part_uri, unions=unions, depth=depth + 1))
    for key in ("anyOf", "oneOf") if unions else ():
        for index, part in enumerate(schema.get(key) or ()):
            resolved, part_uri = contract.deref(part, f"{uri}/{key}/{index}")
            for name, found in envelope_properties(
                contract, resolved, part_uri, unions=True, depth=depth + 1
            ).items():
                out.setdefault(name, found)
    for name, prop in (schema.get("properties") or {}).items():
        out[name] = contract.deref(prop, f"{uri}/properties/{escape(name)}")
    return out


def envelope_required(contract: Contract, schema: Any, uri: str) -> set[str]:
    """The required properties of a response object, its `allOf` parts included."""
    if not isinstance(schema, dict):
        return set()
    out = set(schema.get("required") or ())
    for index, part in enumerate(schema.get("allOf") or ()):
        resolved, part_uri = contract.deref(part, f"{uri}/allOf/{index}")
        out |= envelope_required(contract, resolved, part_uri)
    return out


def _is_record(items: Any) -> bool:
    """Items that are objects (records, polymorphic ones included), not strings or numbers."""
    if not isinstance(items, dict):
        return False
    return "object" in schema_type(items) or any(
        k in items for k in ("properties", "allOf", "anyOf", "oneOf")
    )


def _pagination(
    contract: Contract, op: Operation, hints: dict[str, Any], data_field: str | None
) -> Pagination:
    params = {p.name: p for p in op.parameters if p.location == "query"}
    shape = _ok_schema(contract, op)
    body = shape[1] if shape else {}
    props = {n: p for n, (p, _) in envelope_properties(contract, body, shape[0]).items()} if shape else {}
    hint = hints.get("pagination", {})
    limit = hint.get("limit") or _pick(LIMIT_NAMES, params)
    limit_schema = params[limit].schema if limit in params else {}
    link = _documents_link(op) or (data_field is None and bool(set(params) & {*PAGE_NAMES, *CURSOR_NAMES}))
    more = hint.get("has_more") or _pick(MORE_NAMES, props)
    page = hint.get("page") or _pick(PAGE_NAMES, params)
    common: dict[str, Any] = dict(
        limit_param=limit,
        default_limit=_int_or_none(limit_schema.get("default")),
        max_limit=_int_or_none(limit_schema.get("maximum")),
        link_header=link,
        has_more_field=more,
        first_page=_first_page(params[page].schema if page in params else {}),
    )
    style = hint.get("style")
    id_cursor = hint.get("after") or _pick(ID_CURSOR_NAMES, params)
    if style == "id" or (style is None and id_cursor):
        before = hint.get("before") or _pick(BEFORE_NAMES, params)
        return Pagination("id", cursor_param=id_cursor, before_param=before, **common)
    cursor = hint.get("cursor") or _pick(CURSOR_NAMES, params)
    if style == "cursor" or (style is None and cursor):
        nxt, is_url = hint.get("next"), False
        if not nxt:
            nxt, is_url = _next_field(contract, props, data_field)
        return Pagination(
            "cursor",
            cursor_param=cursor,
            next_field=nxt,
            next_is_url=is_url,
            page_param=page,
            links=_page_links(contract, props, data_field, nxt, ("first", "previous")),
            **common,
        )
    offset = hint.get("offset") or _pick(OFFSET_NAMES, params)
    if style == "offset" or (style is None and offset):
        nxt, is_url = _next_field(contract, props, data_field)
        return Pagination(
            "offset",
            offset_param=offset,
            next_field=nxt if is_url else None,
            next_is_url=is_url,
            links=_page_links(contract, props, data_field, nxt if is_url else None, ROLES),
            **common,
        )
    if style == "page" or (style is None and page):
        nxt, is_url = _next_field(contract, props, data_field)
        return Pagination(
            "page",
            page_param=page,
            next_field=nxt if is_url else None,
            next_is_url=is_url,
            links=_page_links(contract, props, data_field, nxt if is_url else None, ROLES),
            **common,
        )
    return Pagination("none", **common)


def _pick(names: tuple[str, ...], available: Any) -> str | None:
    """The first of `names` that `available` has, as it is spelled there: case and `_` do not
    matter (`page_size`, `pageSize`, Twilio's `PageSize`)."""
    spelled = {str(n).lower().replace("_", ""): n for n in available}
    for name in names:
        found = spelled.get(name.lower().replace("_", ""))
        if found is not None:
            return found
    return None


def _next_field(contract: Contract, props: dict[str, Any], data_field: str | None) -> tuple[str | None, bool]:
    """The envelope field holding the next cursor or URL: top level, one level down
    (`_metadata.next`, `response_metadata.next_cursor`) or, failing those, two levels down a
    paging holder (DigitalOcean's `links.pages.next`); whether it is a URL."""

    def pick(found: dict[str, Any]) -> str | None:
        return next((n for n in NEXT_NAMES if n in found), None) or next(
            (n for n in found if "cursor" in n.lower() or n.lower().startswith("next")), None
        )

    name = pick({n: p for n, p in props.items() if n != data_field})
    if name:
        return name, _is_url(props[name])
    for holder, fields in _holders(contract, props, 1):
        sub = pick(fields)
        if sub:
            return f"{holder}.{sub}", _is_url(fields[sub])
    for holder, fields in _holders(contract, props, 2):
        sub = pick({n: f for n, f in fields.items() if "string" in schema_type(f)})
        if sub:
            return f"{holder}.{sub}", _is_url(fields[sub])
    return None, False


def object_fields(contract: Contract, schema: Any) -> dict[str, dict[str, Any]]:
    """The fields a value of an object schema may carry, resolved (`envelope_properties` with
    its unions): its own properties, and its `allOf`, `anyOf` and `oneOf` parts'."""
    found = envelope_properties(contract, schema, _root_uri(contract), unions=True)
    return {name: prop if isinstance(prop, dict) else {} for name, (prop, _) in found.items()}


def object_required(contract: Contract, schema: Any) -> set[str]:
    """The properties an object schema requires, its `allOf` parts' included (DigitalOcean's
    `meta`): `object_fields`' twin."""
    return envelope_required(contract, schema, _root_uri(contract))


def _root_uri(contract: Contract) -> str:
    """The URI for a schema whose place is not known: the document's root, as a fragment base
    (`file#`), so `/allOf/0` appended still names a place in the document, not another file."""
    return f"{contract.uri}#"


def _holders(contract: Contract, props: dict[str, Any], levels: int) -> list[tuple[str, dict[str, Any]]]:
    """(dotted path, fields) of the paging holders `levels` down: a `META_NAMES` property of the
    envelope (`meta`, `links`), then any object inside it (`links.pages`)."""
    found = [(meta, object_fields(contract, props[meta])) for meta in META_NAMES if meta in props]
    for _ in range(levels - 1):
        found = [
            (f"{path}.{name}", inner)
            for path, fields in found
            for name, schema in fields.items()
            if (inner := object_fields(contract, schema))
        ]
    return [(path, fields) for path, fields in found if fields]


_URL_WORDS = re.compile(r"^\W*(the\s+|a\s+)?(ur[il]|link)\b", re.IGNORECASE)


def _is_url(schema: Any) -> bool:
    """A link, by its format (`uri`, `url`), by an example that is an absolute http(s) URL, or
    by a description that opens by saying so (DigitalOcean's `next`: "URI of the next page",
    example `https://api.digitalocean.com/v2/images?page=2`, no format)."""
    if not isinstance(schema, dict):
        return False
    if schema.get("format") in ("uri", "url", "uri-reference"):
        return True
    if "string" not in schema_type(schema):
        return False
    examples = [schema.get("example"), *(schema.get("examples") or ())]
    if any(isinstance(e, str) and re.match(r"^https?://[^\s/]+", e) for e in examples):
        return True
    return bool(_URL_WORDS.match(str(schema.get("description") or "")))


ROLES = ("first", "previous", "last")
_ROLE_WORDS = {"first": ("first",), "previous": ("previous", "prev"), "last": ("last",)}


def _page_links(
    contract: Contract,
    props: dict[str, Any],
    data_field: str | None,
    next_field: str | None,
    roles: tuple[str, ...],
) -> tuple[tuple[str, str], ...]:
    """The envelope's links to the first, previous and last page, beside the next one: string
    fields named for the role and a link (`first_page_uri`, `previous_page_url`, `prevLink`,
    `meta.last_page_url`), at top level, one level down or, where the next link is, two levels
    down (`links.pages.prev`). A cursor list's last page cannot be named, so `roles` leaves it
    out there."""

    def found(fields: dict[str, Any], holder: str) -> list[tuple[str, str]]:
        out = []
        for name, schema in fields.items():
            plain = name.lower().replace("_", "").replace("-", "")
            if name == data_field or not isinstance(schema, dict) or "string" not in schema_type(schema):
                continue
            if not any(w in plain for w in ("uri", "url", "link", "href")) and not _is_url(schema):
                continue
            role = next((r for r in roles if any(plain.startswith(w) for w in _ROLE_WORDS[r])), None)
            dotted = f"{holder}.{name}" if holder else name
            if role and dotted != next_field:
                out.append((dotted, role))
        return out

    links = found(props, "")
    for holder, fields in _holders(contract, props, 1):
        links += found(fields, holder)
    if next_field and next_field.count(".") == 2:
        for holder, fields in _holders(contract, props, 2):
            if next_field.startswith(holder + "."):
                links += found(fields, holder)
    return tuple(links)


def _first_page(schema: dict[str, Any]) -> int:
    """The number of a list's first page: the page parameter's default, else its minimum where
    that is 0 or 1 (Twilio's `Page` has minimum 0), else 1."""
    for key in ("default", "minimum"):
        value = _int_or_none(schema.get(key))
        if value in (0, 1):
            return int(value)
    return 1


def _documents_link(op: Operation) -> bool:
    response = op.responses.get("200")
    return bool(response and "link" in response.headers)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _since_param(op: Operation) -> str | None:
    for p in op.parameters:
        if p.location == "query" and p.schema.get("format") == "date-time":
            return p.name
    return None


_ANY_PARAM = re.compile(r"\{[^}]*\}")


def _shape(path: str) -> str:
    return _ANY_PARAM.sub("{}", _EXT.sub("", path.rstrip("/")))


def parent_collection(collections: Mapping[str, Collection], col: Collection) -> Collection | None:
    """The collection whose records are `col`'s parents: its item path is where the nested list
    path's parameters end (`/2010-04-01/Accounts/{AccountSid}` of `.../Queues.json`)."""
    if not col.parent_params:
        return None
    listed = _EXT.sub("", col.list_op.path.rstrip("/"))
    head = _shape(listed[: listed.rfind("}") + 1])
    for other in collections.values():
        if other.name == col.name or _shape(other.item_op.path) != head:
            continue
        named = len(other.key_fields) if other.key_fields else len(other.parent_params) + 1
        if named == len(col.parent_params):
            return other
    return None


def operation_roles(contract: Contract) -> dict[str, tuple[str, str | None]]:
    """What each operation is, by operationId: (role, collection name or None).

    Roles: `list`, `read`, `create`, `update`, `delete` of a collection; `action` (a POST under
    a record, `POST /charges/{id}/capture`); `sub-resource` (any other call under a record,
    `GET /accounts/{id}/balance`); `singleton` (one object at a fixed path, `/users/me`,
    `/account`); `feed`; `other`.
    """
    out: dict[str, tuple[str, str | None]] = {}
    items: dict[str, str] = {}
    for col in contract.collections.values():
        items[col.item_op.path.rstrip("/")] = col.name
        out[col.list_op.operation_id] = ("list", col.name)
        out[col.item_op.operation_id] = ("read", col.name)
        for role, op in (("create", col.create_op), ("update", col.update_op), ("delete", col.delete_op)):
            if op is not None:
                out[op.operation_id] = (role, col.name)
    feed = find_feed(contract)
    if feed is not None:
        out[feed.operation_id] = ("feed", None)
    for op in contract.operations:
        if op.operation_id in out:
            continue
        owner = next((items[p] for p in _prefixes(op.path) if p in items), None)
        if owner is not None:
            out[op.operation_id] = ("action" if op.method == "POST" else "sub-resource", owner)
        elif (
            op.method in ("GET", "PUT", "PATCH")
            and not op.path.rstrip("/").endswith("}")
            and _is_object(contract, op)
        ):
            out[op.operation_id] = ("singleton", None)
        else:
            out[op.operation_id] = ("other", None)
    return out


def _prefixes(path: str) -> list[str]:
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[:n]) for n in range(len(parts) - 1, 1, -1)]


def _is_object(contract: Contract, op: Operation) -> bool:
    if op.method != "GET":
        return any(
            o.method == "GET" and o.path == op.path and _is_object(contract, o) for o in contract.operations
        )
    found = _ok_schema(contract, op)
    if found is None:
        return False
    return _list_shape(contract, op) is None and "array" not in schema_type(found[1])
