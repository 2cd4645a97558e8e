"""Serve collections over the tenant's data: list pages (cursor, offset or page paging), single
records, writes, and the change feed.

URLs a client follows are absolute and point back at the sandbox as the client reached it: the
next page (`Link` headers, `next` URL fields) and each record's self link (`url`, `href`,
`self`, `_links.self.href`, `_metadata.self`), so an SDK that acts on an object through its own
link stays inside the sandbox. Fields named a URI (Twilio's `next_page_uri`,
`previous_page_uri`, `first_page_uri`, a record's `uri`) are paths under the API's root, as the
vendor sends them and its SDK joins them to its base URL.
"""

from __future__ import annotations

import json
import random
from contextvars import ContextVar
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from harness.contract import Collection, Contract, Operation, Violation
from harness.contract.bodies import coerce_text
from harness.contract.collections import (
    BEFORE_NAMES,
    ID_CURSOR_NAMES,
    LIMIT_NAMES,
    META_NAMES,
    envelope_properties,
    envelope_required,
    object_fields,
    object_required,
)
from harness.contract.collections import list_ok_schema as ok_schema
from harness.contract.links import LINK_HOLDERS, SELF_NAMES, writable
from harness.contract.plain import plainest
from harness.contract.schema import schema_type
from harness.contract.styles import fold
from harness.sandbox import cursors
from harness.sandbox.events import singular
from harness.sandbox.generated import concrete
from harness.sandbox.problems import json_response, problem
from harness.sandbox.store.scoped import dig
from harness.sandbox.tenants import Tenant
from harness.synth import rfc3339
from harness.synth.ids import codec_for, short_digits
from harness.synth.overlay import START, Change

Query = dict[str, list[str]]
TOTAL_NAMES = ("total", "total_count", "count")

ORIGIN: ContextVar[str] = ContextVar("sandbox_origin", default="")
"""The API's root as this request reached it (`http://127.0.0.1:8080/t/ten_1/v1`): set by the
app per request, read where absolute URLs are made."""


def list_records(
    col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes
) -> Response:
    """One page in the documented shape: its envelope, paging fields and (where used) `Link`.
    A nested collection lists the records under the parent its path names only."""
    data = tenant.data
    pag = col.pagination
    scope = _scope(col, path_params)
    limit = _int(query, pag.limit_param, pag.default_limit or 50)
    if pag.max_limit:
        limit = min(limit, pag.max_limit)
    limit = max(limit, 1)
    since_text = _one(query, col.since_param)
    try:
        since = datetime.fromisoformat(since_text) if since_text else None
    except ValueError as exc:
        return _bad_cursor(col.since_param or "since", str(exc), "query")
    first = pag.first_page
    page = max(_int(query, pag.page_param, first), first) if pag.page_param else None
    after = START
    ended = False  # a cursor the sandbox never issued, where the contract allows no refusal
    token = _one(query, pag.cursor_param) if pag.style == "cursor" else None
    if token:
        try:
            position = cursors.decode(tenant.secret, col.name, token)
            after = (int(position["k"][0]), int(position["k"][1]))
            since = datetime.fromisoformat(position["since"]) if position.get("since") else since
            page = int(position["p"]) if page is not None and position.get("p") is not None else page
        except (cursors.InvalidCursor, KeyError, ValueError, TypeError, IndexError) as exc:
            if refuses_cursors(col.list_op):
                return _bad_cursor(pag.cursor_param or "cursor", str(exc))
            ended = True
    if pag.style == "id" and _one(query, pag.cursor_param):
        record_id = _coerce_id(col, _one(query, pag.cursor_param) or "")
        key = data.key_of(col.name, record_id)
        if key is None or not _in_scope(col, tenant, record_id, path_params):
            if refuses_cursors(col.list_op):
                return _bad_cursor(
                    pag.cursor_param or "starting_after", f"no {col.name} record with id {record_id!r}"
                )
            ended = True
        else:
            after = key
    offset = 0
    if pag.style == "offset":
        offset = max(_int(query, pag.offset_param, 0), 0)
    elif page is not None and (pag.style == "page" or not token):  # Twilio's `Page` without a token
        offset = (page - first) * limit
    if offset and not ended:
        after = data.scoped_key_at(col.name, scope, offset, since)
    records, last = ([], None) if ended else data.scoped_page(col.name, scope, after, limit, since)
    contract = data.dataset.contract
    records = [_served(contract, col, r, path_params) for r in records]
    wanted = _expand_paths(col.list_op, query, f"{col.data_field}." if col.data_field else "")
    records = [expanded(tenant, col, r, wanted) for r in records]
    more = last is not None
    envelope = _envelope(contract, col)
    total = _Lazy(lambda: data.scoped_count(col.name, scope, since))
    moves = _Moves(col, tenant, query, scope, limit, since)
    last_id = records[-1].get(col.id_field) if records else None
    following = moves.next(offset, page, last, last_id) if more else None
    if pag.style == "cursor" and more:
        position = {"k": list(last or ()), "since": since.isoformat() if since else None}
        if page is not None:
            position["p"] = page + 1
        cursor = cursors.encode(tenant.secret, col.name, position, _long_cursor(col, tenant, position))
    else:
        cursor = None
    link_of = _Links(contract, col, path_params)
    fields: dict[str, Any] = {}
    if pag.next_field:
        fields[pag.next_field] = (
            link_of(pag.next_field, following) if pag.next_is_url or pag.style != "cursor" else cursor
        )
    for dotted, role in pag.links:
        if role == "first":
            fields[dotted] = link_of(dotted, moves.first())
        elif role == "previous":
            fields[dotted] = link_of(dotted, moves.previous(offset, page, after))
        elif role == "last":
            fields[dotted] = link_of(dotted, moves.last(total()))
    values = {
        "data": records,
        "has_more": more,
        "total": total,
        "offset": offset if pag.style in ("offset", "page") or page is None else (page - first) * limit,
        "page": page,
        "limit": limit,
        "url": _list_url(contract, col, path_params),
        "here": lambda name: link_of(name, moves.here(offset, page, token)),
    }
    next_url = link_of("url", following)
    headers = {"Link": f'<{next_url}>; rel="next"'} if pag.link_header and next_url else None
    return json_response(
        _page_body(contract, col.data_field, pag.has_more_field, fields, values, envelope), headers=headers
    )


class _Lazy:
    """A value computed once, only if asked for (a count under a parent costs a scan)."""

    def __init__(self, make: Any) -> None:
        self._make, self._value, self._done = make, None, False

    def __call__(self) -> Any:
        if not self._done:
            self._value, self._done = self._make(), True
        return self._value


class _Moves:
    """The queries of the pages around this one (`?Page=1&PageSize=50&PageToken=...`), for next,
    previous, first and last links: the request's own query with the paging parameters changed."""

    def __init__(
        self, col: Collection, tenant: Tenant, query: Query, scope: tuple[str, ...], limit: int, since: Any
    ) -> None:
        self.col, self.tenant, self.scope, self.limit, self.since = col, tenant, scope, limit, since
        self.pag = col.pagination
        self.kept = {k: v[-1] for k, v in query.items() if v}

    def _query(self, changes: dict[str | None, Any]) -> str:
        merged = dict(self.kept)
        if self.pag.limit_param:
            merged[self.pag.limit_param] = str(self.limit)
        for name, value in changes.items():
            if name is None:
                continue
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = str(value)
        return "?" + urlencode(merged) if merged else ""

    def _cursor(self, key: Any, page: int | None) -> str:
        position: dict[str, Any] = {"k": list(key), "since": self.since.isoformat() if self.since else None}
        if page is not None:
            position["p"] = page
        return cursors.encode(self.tenant.secret, self.col.name, position)

    def next(self, offset: int, page: int | None, last: Any, last_id: Any) -> str | None:
        pag = self.pag
        following = page + 1 if page is not None else None
        if pag.style == "cursor":
            return self._query({pag.cursor_param: self._cursor(last, following), pag.page_param: following})
        if pag.style == "id" and last_id is not None:
            return self._query({pag.cursor_param: last_id})
        if pag.style == "page" and page is not None:
            return self._query({pag.page_param: page + 1})
        if pag.style == "offset":
            return self._query({pag.offset_param: offset + self.limit})
        return None

    def first(self) -> str:
        pag = self.pag
        if pag.style == "offset":
            return self._query({pag.offset_param: 0})
        return self._query(
            {pag.cursor_param: None, pag.page_param: pag.first_page if pag.page_param else None}
        )

    def here(self, offset: int, page: int | None, token: str | None) -> str:
        pag = self.pag
        if pag.style == "offset":
            return self._query({pag.offset_param: offset})
        return self._query({pag.page_param: page})

    def previous(self, offset: int, page: int | None, after: Any) -> str | None:
        pag = self.pag
        if pag.style == "offset":
            return self._query({pag.offset_param: max(offset - self.limit, 0)}) if offset > 0 else None
        if pag.style == "page":
            return (
                self._query({pag.page_param: page - 1})
                if page is not None and page > pag.first_page
                else None
            )
        if pag.style != "cursor":
            return None
        start = self.tenant.data.key_before(self.col.name, self.scope, after, self.limit, self.since)
        if start is None:
            return None
        earlier = page - 1 if page is not None else None
        token = None if start == START else self._cursor(start, earlier)
        return self._query({pag.cursor_param: token, pag.page_param: earlier})

    def last(self, total: int) -> str | None:
        pages = max((total + self.limit - 1) // self.limit, 1)
        if self.pag.style == "page":
            return self._query({self.pag.page_param: self.pag.first_page + pages - 1})
        if self.pag.style == "offset":
            return self._query({self.pag.offset_param: (pages - 1) * self.limit})
        return None


class _Links:
    """A page query as an absolute URL back into the sandbox as the client reached it, for every
    link field, those named a URI (Twilio's `next_page_uri`, `format: uri`) too: an SDK that
    joins the link to its base URL by concatenation still lands on the page
    (harness.sandbox.joined)."""

    def __init__(self, contract: Contract, col: Collection, path_params: dict[str, str]) -> None:
        self.absolute = ORIGIN.get() + _list_path(col, path_params)

    def __call__(self, field: str, query: str | None) -> str | None:
        if query is None:
            return None
        return self.absolute + query


def with_self_links(contract: Contract, col: Collection, record: Any, path_params: dict[str, str]) -> Any:
    """The record with each self-link field it carries set to its own URL in the sandbox. A
    field its writes accept (a webhook's target `url`) is the client's data, not a link."""
    if not isinstance(record, dict) or not ORIGIN.get():
        return record
    record_id = record.get(col.id_field)
    if record_id is None:
        return record
    params = {**path_params, col.id_param: str(record_id)}
    if col.key_fields:  # read at a path of its own: its fields fill that path
        keys = {param: dig(record, name) for param, name in col.key_fields}
        if any(v is None for v in keys.values()):
            return record
        params = {param: str(value) for param, value in keys.items()}
    path = col.item_op.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    url = ORIGIN.get() + path
    out = dict(record)
    written = writable(contract, col)
    for name in SELF_NAMES:
        if isinstance(out.get(name), str) and name not in written:
            out[name] = url
    if (
        isinstance(out.get("uri"), str) and "uri" not in written
    ):  # Twilio's: its own URL, as `format: uri` says
        out["uri"] = url
    for holder in LINK_HOLDERS:
        links = out.get(holder)
        if not isinstance(links, dict) or holder in written:
            continue
        links = dict(links)
        own = links.get("self")
        if isinstance(own, str):
            links["self"] = url
        elif isinstance(own, dict) and isinstance(own.get("href"), str):
            links["self"] = {**own, "href": url}
        out[holder] = links
    return out


def as_record_fields(contract: Contract, col: Collection, fields: Any) -> Any:
    """A write's fields under the record's own names, where the request names them otherwise
    but alike: Twilio's form sends `FriendlyName` for the record's `friendly_name`, so it is
    stored (and read back) as that. Case, `_` and `-` do not count; names the record lacks
    stay as sent."""
    if not isinstance(fields, dict):
        return fields
    names: dict[str, str] = _record_names(contract, col)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        own = str(key) if key in names.values() else names.get(_plain(str(key)), str(key))
        if own not in out or own == key:
            out[own] = value
    return out


def _plain(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _record_names(contract: Contract, col: Collection) -> dict[str, str]:
    """The item schema's property names by their plain spelling (one per spelling)."""
    cache = contract.__dict__.setdefault("_record_names", {})
    if col.name not in cache:
        props = envelope_properties(contract, col.item_schema, col.item_schema_uri)
        names: dict[str, str] = {}
        for name in props:
            names.setdefault(_plain(name), name)
        cache[col.name] = names
    return cache[col.name]


def get_record(
    col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes
) -> Response:
    record_id = _found_id(col, tenant, path_params)
    record = _live(tenant, col, record_id, path_params) or _adopted(col, tenant, record_id, path_params)
    record = record or _stand_in(col, col.item_op, tenant, record_id, path_params)
    if record is None:
        return _missing(col, record_id, path_params)
    record = expanded(tenant, col, record, _expand_paths(col.item_op, query))
    return json_response(
        wrapped(col, "read", _served(tenant.data.dataset.contract, col, record, path_params))
    )


def wrapped(col: Collection, kind: str, record: Any) -> Any:
    """The record in the property the contract wraps it in for this answer (Asana's
    `{"data": {...}}`), or as it is."""
    holder = col.wrappers.get(kind)
    return {holder: record} if holder else record


def unwrapped(col: Collection, kind: str, fields: Any) -> Any:
    """A write's fields out of the property its request body wraps them in (`{"data": {...}}`)."""
    holder = col.wrappers.get(f"{kind}_body")
    if holder and isinstance(fields, dict) and isinstance(fields.get(holder), dict):
        return fields[holder]
    return fields


def _expand_paths(op: Any, query: Query, prefix: str = "") -> list[str]:
    """The fields a request asks to expand (Stripe's `expand[]=customer`; for a list,
    `expand[]=data.customer`), where the operation declares an `expand` query parameter."""
    if not any(p.name == "expand" and p.location == "query" for p in op.parameters):
        return []
    asked = fold(op, query).get("expand") or []
    if isinstance(asked, dict):
        asked = list(asked.values())
    names = [str(a) for a in (asked if isinstance(asked, list) else [asked])]
    return [n[len(prefix) :] for n in names if n.startswith(prefix) and "." not in n[len(prefix) :]]


def expanded(tenant: Tenant, col: Collection, record: Any, fields: list[str]) -> Any:
    """The record with each asked-for id field replaced by the record it names, where the
    field's schema allows that record (`anyOf: [id string, $ref customer]`) and the tenant
    has it; other fields stay ids."""
    if not fields or not isinstance(record, dict):
        return record
    contract = tenant.data.dataset.contract
    props = envelope_properties(contract, col.item_schema, col.item_schema_uri)
    by_schema = {c.item_schema_uri: c for c in contract.collections.values() if not c.parent_params}
    out = dict(record)
    for name in fields:
        value = out.get(name)
        schema, uri = props.get(name, (None, ""))
        if not isinstance(value, str) or not isinstance(schema, dict):
            continue
        for index, branch in enumerate(schema.get("anyOf") or schema.get("oneOf") or ()):
            target = by_schema.get(contract.deref(branch, f"{uri}/anyOf/{index}")[1])
            found = tenant.data.get(target.name, _coerce_id(target, value)) if target else None
            if target is not None and found is not None:
                out[name] = with_self_links(contract, target, found, {})
                break
    return out


def create_record(
    col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes
) -> Response:
    contract = tenant.data.dataset.contract
    fields = as_record_fields(contract, col, unwrapped(col, "create", json.loads(body) if body else {}))
    if col.parent_params and isinstance(
        fields, dict
    ):  # its parent field (Twilio's account_sid) from the path
        fields = {**_parent_fields(contract, col, path_params), **fields}
    record = tenant.data.create(col.name, fields, _scope(col, path_params) if col.parent_params else None)
    if col.key_fields and isinstance(record.get("full_name"), str):  # GitHub, Bitbucket: `owner/name`
        keys = [dig(record, name) for _, name in col.key_fields]
        if all(isinstance(k, (str, int)) for k in keys):
            full = "/".join(str(k) for k in keys)
            record = tenant.data.update(col.name, record[col.id_field], {"full_name": full}) or record
    served = _served(tenant.data.dataset.contract, col, record, path_params)
    return json_response(wrapped(col, "create", served), col.status_of("create", 201))


def update_record(
    col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes
) -> Response:
    record_id = _found_id(col, tenant, path_params)
    sent = unwrapped(col, "update", json.loads(body) if body else {})
    fields = as_record_fields(tenant.data.dataset.contract, col, sent)
    current = _live(tenant, col, record_id, path_params) or _adopted(col, tenant, record_id, path_params)
    record = tenant.data.update(col.name, current[col.id_field], fields) if current else None
    if record is None and col.update_op is not None:
        found = _stand_in(col, col.update_op, tenant, record_id, path_params)
        record = {**found, **(fields if isinstance(fields, dict) else {})} if found else None
    if record is None:
        return _missing(col, record_id, path_params)
    served = _served(tenant.data.dataset.contract, col, record, path_params)
    return json_response(wrapped(col, "update", served), col.status_of("update", 200))


def delete_record(
    col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes
) -> Response:
    """Delete with the documented status; where a body is documented (Stripe's `deleted`
    object, or the record itself) it is built from the record that was deleted."""
    record_id = _found_id(col, tenant, path_params)
    record = _live(tenant, col, record_id, path_params) or _adopted(col, tenant, record_id, path_params)
    if record is None or not tenant.data.delete(col.name, record[col.id_field]):
        record = _stand_in(col, col.delete_op, tenant, record_id, path_params) if col.delete_op else None
    if record is None:
        return _missing(col, record_id, path_params)
    written = col.writes.get("delete")
    status = written.status if written else 204
    if status == 204 and written is not None and written.media:  # content documented, none allowed
        return Response(status_code=204, media_type=concrete(written.media))
    if written is None or written.body_uri is None or status == 204:
        return Response(status_code=status)
    contract = tenant.data.dataset.contract
    schema = contract.deref({"$ref": written.body_uri}, contract.uri)[0]
    return json_response(_deleted_body(contract, schema, record, col), status)


def _stand_in(
    col: Collection, op: Any, tenant: Tenant, record_id: Any, path_params: dict[str, str]
) -> dict[str, Any] | None:
    """A record for an id the tenant has no record for, where the operation documents no 404
    (nor a 4XX or default answer): the contract allows only its success, so that is answered,
    with a record made for this id (not stored). A record the tenant deleted, or one under
    another parent, stays a 404: state is real. None: answer 404."""
    if op.response_for(404) is not None:
        return None
    return _made_for(col, tenant, record_id, path_params)


def _adopted(
    col: Collection, tenant: Tenant, record_id: Any, path_params: dict[str, str]
) -> dict[str, Any] | None:
    """On a tenant with lenient ids, the record made for an id it has no record for, now kept
    (read, update and delete then see it), as stripe-mock answers any id: so suites written
    against a stateless mock (`Customer.retrieve("cus_123")`) run. Every id of the right shape
    exists there, so one deleted earlier is made anew too (such suites delete `cus_123` in one
    test and read it in the next). The id's shape was checked with the request. One under
    another parent stays a 404."""
    if not tenant.lenient_ids:
        return None
    record = _made_for(col, tenant, record_id, path_params, revive=True)
    if record is None or (col.key_fields and tenant.data.get(col.name, record.get(col.id_field))):
        return None  # a record made for key fields drew an id another record has
    return tenant.data.adopt(col.name, record, _scope(col, path_params) if col.parent_params else None)


def _made_for(
    col: Collection, tenant: Tenant, record_id: Any, path_params: dict[str, str], revive: bool = False
) -> dict[str, Any] | None:
    """A record for an id (or key fields) the tenant has no live record for, made from the seed
    and the id; None where state says there is none: deleted (unless `revive`), or alive under
    another parent."""
    if not revive and _was_deleted(tenant, col, record_id):
        return None
    if record_id is not _NOT_FOUND and tenant.data.get(col.name, record_id) is not None:
        return None  # it exists, under another parent: state is real, so not found here either
    dataset = tenant.data.dataset
    salt = ":stand-in:" + ("/".join(path_params.values()) if col.key_fields else str(record_id))
    record = dataset.make(col.name, max(dataset.size(col.name) - 1, 0), seed_salt=salt)
    if not isinstance(record, dict):
        return None
    if col.key_fields:  # the fields its path names take the values asked for
        for param, name in col.key_fields:
            _put(record, name, path_params.get(param))
    else:
        record[col.id_field] = record_id
    return record


def _put(record: dict[str, Any], dotted: str, value: Any) -> None:
    *holders, last = dotted.split(".")
    for step in holders:
        inner = record.get(step)
        if not isinstance(inner, dict):
            inner = record[step] = {}
        record = inner
    record[last] = value


KEY_SCAN_PAGE = 500
_NOT_FOUND = object()


def _live(
    tenant: Tenant, col: Collection, record_id: Any, path_params: dict[str, str]
) -> dict[str, Any] | None:
    """The record, if it exists under the parent the path names (`/networks/{networkId}/...`)."""
    if record_id is _NOT_FOUND:
        return None
    record = tenant.data.get(col.name, record_id)
    return record if record is not None and _in_scope(col, tenant, record_id, path_params) else None


def _scope(col: Collection, path_params: dict[str, str]) -> tuple[str, ...]:
    return tuple(str(path_params.get(name, "")) for name in col.parent_params)


def _in_scope(col: Collection, tenant: Tenant, record_id: Any, path_params: dict[str, str]) -> bool:
    """A record of a nested collection is found under its own parent only (one its create named,
    or the one seeding placed it under: harness.sandbox.store.scoped)."""
    if not col.parent_params:
        return True
    placed = tenant.data.parent_of(col.name, record_id)
    return placed is None or placed == _scope(col, path_params)


def _long_cursor(col: Collection, tenant: Tenant, position: dict[str, Any]) -> int | None:
    """The cursor parameter's maxLength, for about half the pages (drawn from the tenant's seed
    and the page): those pages' cursors are as long as the contract allows. None otherwise."""
    pag = col.pagination
    param = next(
        (p for p in col.list_op.parameters if p.location == "query" and p.name == pag.cursor_param), None
    )
    longest = param.schema.get("maxLength") if param is not None else None
    if not isinstance(longest, int) or longest > 4096 or not tenant.adversarial:
        return None
    draw = random.Random(f"{tenant.seed}:long-cursor:{json.dumps(position, sort_keys=True)}").random()
    return longest if draw < 0.5 else None


def _served(contract: Contract, col: Collection, record: Any, path_params: dict[str, str]) -> Any:
    """The record as served under its path: its fields that name its parents (Twilio's
    `account_sid`) hold the path's values, and its self links point into the sandbox."""
    if col.parent_params and isinstance(record, dict):
        record = {**record, **_parent_fields(contract, col, path_params)}
    return with_self_links(contract, col, record, path_params)


def _parent_fields(contract: Contract, col: Collection, path_params: dict[str, str]) -> dict[str, Any]:
    """The record's fields that name its parents (`{AccountSid}` is Twilio's `account_sid`,
    `{networkId}` a `networkId`), set from the path a record is created or read under."""
    out: dict[str, Any] = {}
    for param, own, kinds in _parent_names(contract, col):
        if param in path_params:
            out[own] = coerce_text(path_params[param], kinds)
    return out


def _parent_names(contract: Contract, col: Collection) -> list[tuple[str, str, set[str]]]:
    """(parent parameter, record field naming it, that field's types), once per collection."""
    cache = contract.__dict__.setdefault("_parent_names", {})
    if col.name not in cache:
        names = _record_names(contract, col)
        props = envelope_properties(contract, col.item_schema, col.item_schema_uri)
        found = []
        for param in col.parent_params:
            own = names.get(_plain(param))
            if own is not None and own != col.id_field:
                schema = props[own][0] if own in props else {}
                found.append((param, own, schema_type(schema if isinstance(schema, dict) else {})))
        cache[col.name] = found
    return cache[col.name]


def _missing(col: Collection, record_id: Any, path_params: dict[str, str]) -> Response:
    """A 404 whose text says "Not Found" as vendors' do: SDKs pick their not-found exception by
    it (PyGithub raises UnknownObjectException only for a 404 whose message says so)."""
    if record_id is _NOT_FOUND:
        named = ", ".join(f"{name} {path_params.get(param)!r}" for param, name in col.key_fields)
        return problem(404, f"Not Found: no {col.name} record with {named}")
    return problem(404, f"Not Found: no {col.name} record with id {record_id!r}")


def _found_id(col: Collection, tenant: Tenant, path_params: dict[str, str]) -> Any:
    """The id of the record an item path names: its last parameter, or (records read at a
    path of their own) the record whose key fields equal the path's values; a value no record
    has when none does."""
    if not col.key_fields:
        return _record_id(col, path_params)
    wanted = [(name, path_params.get(param)) for param, name in col.key_fields]
    after = START
    while True:
        records, last = tenant.data.page(col.name, after, KEY_SCAN_PAGE)
        for record in records:
            if all(str(dig(record, name)) == value for name, value in wanted):
                return record.get(col.id_field)
        if last is None:
            return _NOT_FOUND
        after = last


def _was_deleted(tenant: Tenant, col: Collection, record_id: Any) -> bool:
    return any(
        c.type == "deleted" and c.collection == col.name and c.id == record_id
        for c in tenant.data.changes_since(0)
    )


def _deleted_body(contract: Contract, schema: Any, record: dict[str, Any], col: Collection) -> Any:
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not props:
        return record
    out: dict[str, Any] = {}
    for name, prop in props.items():
        resolved = contract.deref(prop, contract.uri)[0]
        if name == "deleted":
            out[name] = True
        elif name == col.id_field or name == "id":
            out[name] = record.get(col.id_field)
        elif isinstance(resolved, dict) and "enum" in resolved and len(resolved["enum"]) == 1:
            out[name] = resolved["enum"][0]
        elif name in record:
            out[name] = record[name]
    return out


class Feed:
    """The change feed: the tenant's change log as the contract's event objects, oldest first
    (newest first with `x-sandbox: {feed: true, order: newest_first}`, as Stripe lists events).

    It pages by whatever its operation offers: an opaque `cursor`, or event ids (Stripe's
    `starting_after`/`ending_before`); it filters by `type` (a name, `*` wildcards, or a list
    of names in `types`) and by a `created` range (`created[gte]=...`, Unix seconds). An
    event's time field is an RFC 3339 string or Unix seconds, as its schema says, and where
    the event's object field is itself an object holding the record (Stripe's `data.object`)
    the record goes there.
    """

    TIME_NAMES = ("occurred_at", "created_at", "timestamp", "time", "created")
    OBJECT_NAMES = ("object", "data", "record", "resource")
    OBJECT_ID_NAMES = ("object_id", "record_id", "resource_id")

    def __init__(self, contract: Contract, op: Any) -> None:
        self.contract = contract
        self.op = op
        shape = _ok_schema(contract, op)
        page_props = shape.get("properties", {}) if shape else {}
        self.data_field = next(
            (
                n
                for n, p in page_props.items()
                if "array" in str(contract.deref(p, contract.uri)[0].get("type"))
            ),
            "data",
        )
        items = contract.deref(page_props.get(self.data_field, {}), contract.uri)[0].get("items", {})
        self.event = contract.deref(items, contract.uri)[0]
        self.page_props = set(page_props)
        self.props = {
            name: contract.deref(prop, contract.uri)[0]
            for name, prop in self.event.get("properties", {}).items()
        }
        self.id_pattern = self.props.get("id", {}).get("pattern")
        params = {p.name for p in op.parameters if p.location == "query"}
        self.after = next((n for n in ID_CURSOR_NAMES if n in params), None)
        self.before = next((n for n in BEFORE_NAMES if n in params), None)
        self.limit = next((n for n in LIMIT_NAMES if n in params), "limit")
        self.cursor = "cursor" if "cursor" in params or not self.after else None
        self.time_name = next((n for n in self.TIME_NAMES if n in self.props), None)
        self.time_is_int = bool(
            self.time_name and schema_type(self.props[self.time_name]) & {"integer", "number"}
        )
        self.holder = next((n for n in self.OBJECT_NAMES if n in self.props and self._holds(n)), None)
        self.newest = op.extensions.get("x-sandbox", {}).get("order") == "newest_first"

    def _holds(self, name: str) -> str | None:
        """The record's field inside an object field (`data.object`), if it is one."""
        inner = self.props[name].get("properties") or {}
        return next((n for n in self.OBJECT_NAMES if n in inner), None)

    def __call__(self, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes) -> Response:
        codec = codec_for(self.id_pattern, tenant.seed, "events")
        position, upto = 0, None
        cursor = _one(query, self.cursor)
        try:
            if cursor:
                position = int(cursors.decode(tenant.secret, "feed", cursor)["seq"])
            if _one(query, self.after):
                position = self._seq(codec, _one(query, self.after) or "")
            if _one(query, self.before):
                upto = self._seq(codec, _one(query, self.before) or "")
        except (cursors.InvalidCursor, KeyError, ValueError) as exc:
            return _bad_cursor((cursor and self.cursor) or self.after or self.before or "cursor", str(exc))
        limit = max(_int(query, self.limit, 50), 1)
        wanted = self._filter(query)
        if self.newest:
            after = position if _one(query, self.after) else None
            changes, more = self._newest_first(tenant, wanted, limit, after, upto)
        elif upto is not None:  # `ending_before`: the page just before that event
            changes = [c for c in tenant.data.changes_since(position) if wanted(c) and c.seq < upto]
            more = len(changes) > limit
            changes = changes[-limit:]
        else:
            changes = [c for c in tenant.data.changes_since(position) if wanted(c)]
            more = len(changes) > limit
            changes = changes[:limit]
        last = max((c.seq for c in changes), default=position)
        body_out: dict[str, Any] = {self.data_field: [self._event(c, codec) for c in changes]}
        for name in self.page_props - {self.data_field}:
            if "cursor" in name or name.startswith("next"):
                body_out[name] = cursors.encode(tenant.secret, "feed", {"seq": last})
            elif "more" in name:
                body_out[name] = more
            elif name in SELF_NAMES:
                body_out[name] = self.contract.base_path + self.op.path
        return json_response(body_out)

    @staticmethod
    def _newest_first(
        tenant: Tenant, wanted: Any, limit: int, after: int | None, before: int | None
    ) -> tuple[list[Change], bool]:
        """A page of a list that runs newest first, as Stripe's events do: `starting_after`
        goes to older events, `ending_before` to the `limit` newer ones just past it."""
        changes = [c for c in tenant.data.changes_since(0) if wanted(c)]
        if before is not None:
            newer = [c for c in changes if c.seq > before]
            return newer[:limit][::-1], len(newer) > limit
        older = [c for c in changes if after is None or c.seq < after][::-1]
        return older[:limit], len(older) > limit

    @staticmethod
    def _seq(codec: Any, event_id: str) -> int:
        seq = codec.decode(event_id) if codec else None
        if seq is None and event_id.startswith("evt_") and event_id[4:].isdigit():
            seq = int(event_id[4:])
        if seq is None:
            raise ValueError(f"no event with id {event_id!r}")
        return int(seq)

    def _filter(self, query: Query) -> Any:
        """Which changes the query asks for: by event type and by `created` range."""
        folded = fold(self.op, query)
        types = [str(t) for t in folded.get("types") or ()] + [str(t) for t in folded.get("type") or ()]
        span = folded.get(self.time_name or "", None) if self.time_is_int else None
        bounds: dict[str, int] = {}
        if isinstance(span, dict):
            bounds = {
                k: int(v) for k, v in span.items() if k in ("gt", "gte", "lt", "lte") and str(v).isdigit()
            }
        elif isinstance(span, list) and span and str(span[-1]).isdigit():
            bounds = {"gte": int(span[-1]), "lte": int(span[-1])}

        def wanted(change: Change) -> bool:
            kind = f"{singular(change.collection)}.{change.type}"
            if types and not any(fnmatchcase(kind, t) for t in types):
                return False
            at = int(change.time.timestamp())
            return all(
                {"gt": at > v, "gte": at >= v, "lt": at < v, "lte": at <= v}[op] for op, v in bounds.items()
            )

        return wanted

    def _event(self, change: Change, codec: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        record = change.record
        if record is None:  # a deletion: the id is all there is
            id_field = self.contract.collections[change.collection].id_field
            record = {id_field: change.id}
        for name in self.props:
            if name == "id":
                out[name] = codec.encode(change.seq) if codec else f"evt_{change.seq}"
            elif name == "type":
                out[name] = f"{singular(change.collection)}.{change.type}"
            elif name in ("sequence", "seq"):
                out[name] = change.seq
            elif name == self.time_name:
                out[name] = int(change.time.timestamp()) if self.time_is_int else rfc3339(change.time)
            elif name in self.OBJECT_ID_NAMES:
                out[name] = change.id
            elif name == self.holder:
                out[name] = {self._holds(name): record}
            elif name in self.OBJECT_NAMES and self.holder is None:
                out[name] = change.record
        return out


def _page_body(
    contract: Contract,
    data_field: str | None,
    more_field: str | None,
    fields: dict[str, Any],
    values: dict[str, Any],
    envelope: Envelope,
) -> Any:
    """The page in the list response's own envelope: the array, the paging fields (the next
    cursor or link and the other page links, top level or one level down: `meta.next_page_url`),
    and every other property it or a paging holder requires (a one-value enum such as Stripe's
    `object: list`, the list's own `url`, Twilio's `page`/`start`/`end`/`uri`, an empty value of
    the right type for anything the sandbox cannot know)."""
    if data_field is None:
        return values["data"]
    body: dict[str, Any] = {data_field: values["data"]}
    holders: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # path -> (its object, its schema)
    for dotted, value in fields.items():
        *path, last = dotted.split(".")  # `_metadata.next`, HubSpot's `paging.next.after`: levels down
        if value is None:
            path, last = _end_of_list(contract, envelope, path, last)
            if not last:  # the last page leaves out an optional holder (HubSpot's `paging.next`)
                continue
        target, props, required = body, envelope.properties, set(envelope.required)
        for depth, step in enumerate(path):
            holder = props.get(step) or {}
            inner = target.setdefault(step, {})
            if not isinstance(inner, dict):
                break
            holders.setdefault(".".join(path[: depth + 1]), (inner, holder))
            target, props = inner, object_fields(contract, holder)
            required = object_required(contract, holder)
        else:
            target.update(_next_value(last, value, props.get(last), required))
    if more_field:
        body[more_field] = values["has_more"]
    _fill(contract, body, envelope.properties, envelope.required, values, data_field, top=True)
    for target, holder in holders.values():
        inner_props = object_fields(contract, holder)
        _fill(contract, target, inner_props, object_required(contract, holder), values, data_field, top=False)
    return body


def _end_of_list(contract: Contract, envelope: Envelope, path: list[str], last: str) -> tuple[list[str], str]:
    """Where a next link that is no more goes: its own field where it may be null or absent;
    else nothing when an optional holder on its path can be left out (`last` empty); else the
    field itself (null)."""
    props, required = envelope.properties, set(envelope.required)
    chain = []  # (step, required in its parent)
    for step in path:
        chain.append((step, step in required))
        holder = props.get(step) or {}
        props, required = object_fields(contract, holder), object_required(contract, holder)
    schema = props.get(last)
    nullable = (
        not isinstance(schema, dict) or "null" in (schema_type(schema) or {"null"}) or schema.get("nullable")
    )
    if last not in required or nullable:
        return path, last
    if any(not needed for _, needed in chain):
        return path, ""
    return path, last


def _fill(
    contract: Contract,
    target: dict[str, Any],
    props: dict[str, dict[str, Any]],
    required: set[str],
    values: dict[str, Any],
    data_field: str,
    *,
    top: bool,
) -> None:
    """Set the paging facts an envelope (or its paging holder, `top` False) documents."""
    for name, schema in props.items():
        if name in target:
            continue
        kinds = schema_type(schema)
        if top and name in META_NAMES and name != data_field and (inner := object_fields(contract, schema)):
            # a paging holder no link goes into (DigitalOcean's required `meta: {total}`): its facts
            held: dict[str, Any] = {}
            _fill(contract, held, inner, object_required(contract, schema), values, data_field, top=False)
            if held or name in required:
                target[name] = held
        elif name in TOTAL_NAMES:
            target[name] = values["total"]()
        elif name in ("offset", "skip", "start"):
            target[name] = values["offset"]
        elif name == "end" and kinds & {"integer", "number"}:  # Twilio: the last record's index
            target[name] = values["offset"] + max(len(values["data"]) - 1, 0)
        elif name in ("page", "page_number") and values["page"] is not None:
            target[name] = values["page"]
        elif name in ("limit", "per_page", "page_size"):
            target[name] = values["limit"]
        elif not top and name == "key" and "string" in kinds:  # Twilio's `meta.key`: where the records are
            target[name] = data_field
        elif top and name in SELF_NAMES and "string" in kinds:
            target[name] = values["url"]
        elif (name == "uri" or name in SELF_NAMES) and "string" in kinds:  # this page's own link
            target[name] = values["here"](name)
        elif name in required:
            target[name] = plainest(contract, schema, contract.uri)


def _next_value(name: str, value: Any, schema: Any, required: set[str]) -> dict[str, Any]:
    """`{name: value}`; on the last page, where the field cannot be null and need not be there,
    nothing (SendGrid: "if this field isn't present, you're at the end of the list")."""
    if value is None and isinstance(schema, dict) and name not in required:
        kinds = schema_type(schema)
        if kinds and "null" not in kinds and not schema.get("nullable"):
            return {}
    return {name: value}


class Envelope:
    """A list response's properties (resolved) and which are required."""

    def __init__(self, properties: dict[str, dict[str, Any]], required: set[str]) -> None:
        self.properties = properties
        self.required = required


def _ok_schema(contract: Contract, op: Any) -> dict[str, Any] | None:
    response = op.responses.get("200")
    uri = next((u for m, u in (response.media.items() if response else []) if u and "json" in m), None)
    schema = contract.deref({"$ref": uri}, contract.uri)[0] if uri else None
    return schema if isinstance(schema, dict) else None


def _envelope(contract: Contract, col: Collection) -> Envelope:
    cache = contract.__dict__.setdefault("_list_envelopes", {})
    if col.name not in cache:
        found = ok_schema(contract, col.list_op)
        if found is None:
            cache[col.name] = Envelope({}, set())
        else:
            uri, schema = found
            props = {
                name: (resolved if isinstance(resolved, dict) else {})
                for name, (resolved, _) in envelope_properties(contract, schema, uri).items()
            }
            cache[col.name] = Envelope(props, envelope_required(contract, schema, uri))
    return cache[col.name]


def _list_url(contract: Contract, col: Collection, path_params: dict[str, str]) -> str:
    """The list's own path under the API base (`/v1/customers`), for `url` fields of envelopes."""
    return contract.base_path + _list_path(col, path_params)


def _list_path(col: Collection, path_params: dict[str, str]) -> str:
    path = col.list_op.path
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return path


def _record_id(col: Collection, path_params: dict[str, str]) -> Any:
    """The record's id from its own path parameter (the last one; parents only scope it)."""
    raw = path_params.get(col.id_param)
    if raw is None:
        raw = list(path_params.values())[-1]
    return _coerce_id(col, raw)


def _coerce_id(col: Collection, raw: str) -> Any:
    kinds = schema_type(col.id_schema)
    return int(raw) if kinds & {"integer", "number"} and short_digits(raw.removeprefix("-")) else raw


def refuses_cursors(op: Operation) -> bool:
    """Whether a list may refuse a cursor it never issued: where it documents a 400 (or `4XX`,
    `default`). Where it documents no client error (Twilio Messaging's lists: 200 only), an
    unknown cursor is the end of the list, an empty last page, which the contract allows."""
    return any(status in op.responses for status in ("400", "4XX", "default"))


def _bad_cursor(param: str, reason: str, where: str = "query") -> Response:
    return problem(400, reason, violations=[Violation(f"/{where}/{param}", reason)])


def _one(query: Query, name: str | None) -> str | None:
    if not name or not query.get(name):
        return None
    return query[name][-1]


def _int(query: Query, name: str | None, default: int) -> int:
    value = _one(query, name)
    return int(value) if value is not None and short_digits(value.removeprefix("-")) else default
