"""Check a request or a response against the contract and return every violation found.

Validation never raises on bad input: malformed JSON, a wrong content type or an unknown path
are findings like any other, each with a pointer into the message and a readable text.

A JSON body found valid for a schema is remembered (the exact bytes, bounded): the sandbox sends
the same page or error many times, and the same bytes against the same schema give the same
answer, so a repeat is known valid without decoding it again. Every body is still checked.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from harness.contract.bodies import coerce, coerce_text, nest, parse_form, to_utf8
from harness.contract.errors import Violation
from harness.contract.model import Contract, Operation, Parameter
from harness.contract.pointer import join
from harness.contract.routing import Match
from harness.contract.schema import schema_type
from harness.contract.styles import fold

Query = Mapping[str, list[str]]


def validate_request(
    contract: Contract,
    method: str,
    path: str,
    query: Query | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> tuple[Match | None, list[Violation]]:
    """Match the request to an operation and validate it. `path` excludes the servers base path."""
    query = query or {}
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    match = contract.router.match(method, path)
    if match is None:
        allowed = contract.router.allowed(path)
        text = (
            f"{method.upper()} is not allowed on {path}; the contract has {', '.join(allowed)}"
            if allowed
            else f"{path} is not a path of the contract"
        )
        return None, [Violation("/path", text)]
    return match, check_request(contract, match, query, headers, body)


def check_request(
    contract: Contract, match: Match, query: Query, headers: Mapping[str, str], body: bytes = b""
) -> list[Violation]:
    """Validate a request already matched to its operation; `headers` have lower-case names."""
    contract = contract.for_requests  # a readOnly property is never required of a client
    op = match.operation
    found = _parameters(contract, op, match.path_params, query, headers)
    found += _request_body(contract, op, headers.get("content-type", ""), body)
    return found


def validate_response(
    contract: Contract,
    operation: Operation,
    status: int,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> list[Violation]:
    """Validate a response the platform (or the sandbox) gave to an operation."""
    contract = contract.for_answers  # a writeOnly property is never in an answer
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    spec = operation.response_for(status)
    if spec is None:
        documented = ", ".join(operation.responses) or "none"
        return [
            Violation(
                "/status", f"{status} is not a documented response of {operation} (documented: {documented})"
            )
        ]
    found: list[Violation] = []
    for name, (required, schema_uri) in spec.headers.items():
        if name == "content-type":
            continue
        if name not in headers:
            if required:
                found.append(Violation(f"/headers/{name}", f"required header {name} is missing"))
            continue
        if schema_uri:
            schema = _resolved(contract, schema_uri)
            found += _schema(contract, schema_uri, _coerce(headers[name], schema), f"/headers/{name}")
    if not spec.media:
        if body:
            found.append(
                Violation("/body", f"{status} of {operation} documents no body, got {len(body)} bytes")
            )
        return found
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if status in NO_BODY or operation.method == "HEAD":
        return found + _bodiless(spec.media, media_type, status, operation, body)
    body_schema = _media_schema(spec.media, media_type)
    if body_schema is False:
        found.append(
            Violation(
                "/headers/content-type",
                f"content type {media_type or '(none)'!r} is not one of {sorted(spec.media)}",
            )
        )
        return found
    found += _parsed_body(contract, body_schema, media_type, body, "/body")
    return found


NO_BODY = (204, 304)  # RFC 9110 sections 15.3.5 and 15.4.5: these responses end at their headers


def _bodiless(
    media: dict[str, str | None], media_type: str, status: int, operation: Operation, body: bytes
) -> list[Violation]:
    """A response HTTP allows no body (204, 304, any answer to HEAD) where the contract documents
    content anyway (Jira, Zoom, SendGrid do for 204): conforming is the documented type, if any,
    and nothing after the headers, for a client discards whatever follows them."""
    found = []
    if body:
        what = "HEAD" if operation.method == "HEAD" else str(status)
        found.append(
            Violation("/body", f"a {what} response carries no body (RFC 9110), got {len(body)} bytes")
        )
    if media_type and _media_schema(media, media_type) is False:
        found.append(
            Violation("/headers/content-type", f"content type {media_type!r} is not one of {sorted(media)}")
        )
    return found


MEMO_ENTRIES = 4096
MEMO_KEY_CHARS = 2048


def _parameters(
    contract: Contract, op: Operation, path_params: dict[str, str], query: Query, headers: Mapping[str, str]
) -> list[Violation]:
    """The parameters' violations; the answer for a parameter set already seen is remembered
    (a client sends the same `?limit=50` again and again), a bounded number of them."""
    key = _parameters_key(op, path_params, query, headers)
    memo: dict[Any, tuple[Violation, ...]] = contract.__dict__.setdefault("_parameter_memo", {})
    if key is not None:
        known = memo.get(key)
        if known is not None:
            return list(known)
    found = _check_parameters(contract, op, path_params, query, headers)
    if key is not None:
        if len(memo) >= MEMO_ENTRIES:
            memo.clear()
        memo[key] = tuple(found)
    return found


def _parameters_key(
    op: Operation, path_params: dict[str, str], query: Query, headers: Mapping[str, str]
) -> tuple[Any, ...] | None:
    """Everything the parameters' verdict depends on, or None when that is too big to keep."""
    named = tuple(headers.get(p.name.lower()) for p in op.parameters if p.location == "header")
    cookie = headers.get("cookie") if any(p.location == "cookie" for p in op.parameters) else None
    key = (
        id(op),
        tuple(path_params.items()),
        tuple((name, tuple(values)) for name, values in query.items()),
        named,
        cookie,
    )
    size = len(cookie or "") + sum(len(v or "") for v in named)
    size += sum(len(k) + len(v) for k, v in path_params.items())
    size += sum(len(name) + sum(len(v) for v in values) for name, values in query.items())
    return key if size <= MEMO_KEY_CHARS else None


def _check_parameters(
    contract: Contract, op: Operation, path_params: dict[str, str], query: Query, headers: Mapping[str, str]
) -> list[Violation]:
    found: list[Violation] = []
    declared = {p.name for p in op.parameters if p.location == "query"}
    declared |= contract.query_credentials(op)
    query = fold(op, query)  # deepObject, delimited and exploded values read by their style
    for name in query:
        if name not in declared:
            hint = f"; it takes {', '.join(sorted(declared))}" if declared else ""
            found.append(Violation(f"/query/{name}", f"{name!r} is not a query parameter of {op}{hint}"))
    cookies = _cookies(headers.get("cookie", ""))
    for param in op.parameters:
        where = f"/{param.location}{join(param.name)}"
        raw = _raw_value(param, path_params, query, headers, cookies)
        if raw is None:
            if param.required:
                found.append(
                    Violation(where, f"required {param.location} parameter {param.name!r} is missing")
                )
            continue
        if param.allow_empty and raw in ("", [""]):
            continue  # Zoom's `option=` (allowEmptyValue): the empty value is allowed as such
        if isinstance(raw, list) and "array" not in schema_type(param.schema):
            if len(raw) > 1:
                found.append(
                    Violation(where, f"{param.name!r} is given {len(raw)} times; it takes one value")
                )
                continue
            raw = raw[0]
        if param.schema_ref:
            if isinstance(raw, dict):  # a deepObject or exploded object: its leaves by their schemas
                value = coerce(contract, raw, {"$ref": param.schema_ref}, contract.uri)
            elif isinstance(raw, str) and not schema_type(
                param.schema
            ):  # `created=5` for anyOf [object, int]
                value = coerce_text(raw, _alternative_types(contract, param.schema, param.schema_ref))
            else:
                value = _coerce(raw, param.schema)
            found += _schema(contract, param.schema_ref, value, where)
    return found


def _alternative_types(contract: Contract, schema: dict[str, Any], uri: str) -> set[str]:
    """The types an `anyOf`/`oneOf` schema's parts allow, for reading a string as one of them."""
    kinds: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for index, part in enumerate(schema.get(key) or ()):
            resolved = contract.deref(part, f"{uri}/{key}/{index}")[0]
            kinds |= schema_type(resolved) if isinstance(resolved, dict) else set()
    return kinds


def _raw_value(
    param: Parameter,
    path_params: dict[str, str],
    query: Query,
    headers: Mapping[str, str],
    cookies: dict[str, str],
) -> Any:
    if param.location == "path":
        return path_params.get(param.name)
    if param.location == "query":
        return query.get(param.name)
    if param.location == "header":
        return headers.get(param.name.lower())
    return cookies.get(param.name)


def _request_body(contract: Contract, op: Operation, content_type: str, body: bytes) -> list[Violation]:
    if not body:
        required = op.body_required and not _empty_allowed(contract, op)
        return [Violation("/body", f"{op} requires a body")] if required else []
    media_type = content_type.split(";")[0].strip().lower()
    if not op.body_media:
        if _says_nothing(media_type, body):
            return []
        return [Violation("/body", f"{op} takes no body, got {len(body)} bytes")]
    schema_uri = _media_schema(op.body_media, media_type)
    if schema_uri is False:
        return [
            Violation(
                "/headers/content-type",
                f"content type {media_type or '(none)'!r} is not one of {sorted(op.body_media)}",
            )
        ]
    try:
        body = to_utf8(content_type, body)  # the text in the charset it declares
    except ValueError as exc:
        where = "/body" if str(exc).startswith("the body") else "/headers/content-type"
        return [Violation(where, str(exc))]
    return _parsed_body(contract, schema_uri, media_type, body, "/body")


def _says_nothing(media_type: str, body: bytes) -> bool:
    """A JSON body that holds nothing: `{}` or `null`, as SDKs generated by swagger-codegen
    (python-asana) send with every DELETE. On an operation that takes no body it is no body;
    any field in it is still one the operation does not take."""
    if (media_type and not _is_json(media_type)) or len(body) > 16:
        return False
    try:
        return json.loads(body) in ({}, None)
    except ValueError:
        return False


def _empty_allowed(contract: Contract, op: Operation) -> bool:
    """Whether no bytes are a valid required body: for a text or binary media type whose schema
    takes the empty string (Spotify's base64 `image/jpeg`, Gitea's `text/plain` markdown), or a
    form whose schema takes no fields. A JSON body is never empty."""
    for media, schema_uri in op.body_media.items():
        if _is_json(media) or media.endswith("/*"):
            continue
        empty: Any = {} if media in ("application/x-www-form-urlencoded", "multipart/form-data") else ""
        if schema_uri is None or contract.validator(schema_uri).is_valid(empty):
            return True
    return False


def _parsed_body(
    contract: Contract, schema_uri: str | None, media_type: str, body: bytes, where: str
) -> list[Violation]:
    known = _known_valid(contract) if schema_uri is not None and _is_json(media_type) else None
    if known is not None and schema_uri is not None and known.seen(schema_uri, body):
        return []
    try:
        value = parse_body(media_type, body)
    except ValueError as exc:
        return [Violation(where, str(exc))]
    if schema_uri is None or value is _UNPARSED:
        return []
    if media_type == "application/x-www-form-urlencoded":
        value = coerce(contract, nest(value), {"$ref": schema_uri}, contract.uri)
    found = _schema(contract, schema_uri, value, where)
    if known is not None and not found:
        known.add(schema_uri, body)
    return found


_UNPARSED = object()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


class KnownValid:
    """JSON bodies already found valid, by schema URI and exact bytes; least recently used
    are forgotten past a total size."""

    LIMIT = 64 << 20  # bytes of bodies kept

    def __init__(self) -> None:
        self._bodies: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def seen(self, schema_uri: str, body: bytes) -> bool:
        key = (schema_uri, body)
        with self._lock:
            if key in self._bodies:
                self._bodies.move_to_end(key)
                return True
        return False

    def add(self, schema_uri: str, body: bytes) -> None:
        if len(body) > self.LIMIT // 64:
            return
        with self._lock:
            if (schema_uri, body) in self._bodies:
                return
            self._bodies[(schema_uri, body)] = None
            self._size += len(body)
            while self._size > self.LIMIT:
                (_, old), _ = self._bodies.popitem(last=False)
                self._size -= len(old)


def _known_valid(contract: Contract) -> KnownValid:
    known = contract.__dict__.get("_known_valid")
    if known is None:
        known = contract.__dict__.setdefault("_known_valid", KnownValid())
    return known


def parse_body(media_type: str, body: bytes) -> Any:
    """Decode a body by its media type; raise ValueError with a readable reason."""
    if _is_json(media_type):
        try:
            return orjson.loads(body)  # fast; what it refuses (NaN, huge integers) json reads or explains
        except orjson.JSONDecodeError:
            pass
        try:
            return json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError("the body is not valid UTF-8") from None
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:
            raise ValueError("the JSON body is nested too deeply to read") from None
    if media_type == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the form body is not valid UTF-8") from None
        try:
            return parse_form(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"the form body is malformed: {exc}") from None
    return _UNPARSED


def _media_schema(media: dict[str, str | None], media_type: str) -> str | Literal[False] | None:
    """The schema URI for a media type (None: no schema), or False when it is not allowed."""
    if media_type in media:
        return media[media_type]
    for declared, schema in media.items():
        major, _, minor = declared.partition("/")
        if declared == "*/*" or (minor == "*" and media_type.startswith(major + "/")):
            return schema
    return False


def _schema(contract: Contract, schema_uri: str, value: Any, where: str) -> list[Violation]:
    validator = contract.validator(schema_uri)
    return [
        Violation(
            where + join(*error.absolute_path),
            error.message,
            "/".join(str(p) for p in error.absolute_schema_path),
        )
        for error in validator.iter_errors(value)
    ]


def _resolved(contract: Contract, schema_uri: str) -> Any:
    """The schema at a URI, resolved once per contract (resolving walks the document's refs)."""
    cache: dict[str, Any] = contract.__dict__.setdefault("_resolved_schemas", {})
    if schema_uri not in cache:
        cache[schema_uri] = contract.deref({"$ref": schema_uri}, contract.uri)[0]
    return cache[schema_uri]


def _plain(contract: Contract, schema: Any) -> dict[str, Any]:
    resolved = contract.deref(schema, contract.uri)[0] if isinstance(schema, dict) else {}
    return resolved if isinstance(resolved, dict) else {}


def _coerce(raw: Any, schema: dict[str, Any]) -> Any:
    """Query, path, header and form values are strings; read them as the schema's type."""
    if isinstance(raw, list):
        items = schema.get("items")
        return [_coerce(v, items if isinstance(items, dict) else {}) for v in raw]
    return coerce_text(raw, schema_type(schema))


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out
