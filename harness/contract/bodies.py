"""Form bodies as the JSON values their schemas describe.

`application/x-www-form-urlencoded` bodies from real SDKs nest with brackets (Stripe's
`metadata[key]=v`, `items[0][price]=p`, `expand[]=a`); the schema describes the nested value,
so the flat pairs are folded into objects and arrays and each leaf read as its schema's type.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Collection
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    from harness.contract.model import Contract

_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_DEPTH = 32


def parse_form(text: str) -> list[tuple[str, str]]:
    """The pairs of a form body; raise ValueError (with a reason) when it is malformed."""
    return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Fold bracket keys into objects and arrays; a plain key repeated becomes a list."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            _put_plain(out, key, value)
            continue
        steps = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        if len(steps) == 1 or len(steps) > MAX_DEPTH:
            _put_plain(out, key, value)
            continue
        node: Any = out
        for index, step in enumerate(steps[:-1]):
            following = steps[index + 1]
            node = _child(node, step, [] if following == "" or following.isdigit() else {})
            if node is None:
                break
        else:
            last = steps[-1]
            if isinstance(node, list):
                if last == "" or not last.isdigit():
                    node.append(value)
                else:
                    _grow(node, int(last))
                    node[int(last)] = value
            elif isinstance(node, dict):
                _put_plain(node, last, value)
    return _compact(out)


def _put_plain(node: dict[str, Any], key: str, value: str) -> None:
    if key in node:
        existing = node[key]
        node[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        node[key] = value


def _child(node: Any, step: str, empty: Any) -> Any:
    if isinstance(node, dict):
        current = node.get(step)
        if not isinstance(current, (dict, list)):
            current = node[step] = empty
        return current
    if isinstance(node, list):
        if step == "":
            node.append(empty)
            return node[-1]
        if step.isdigit() and int(step) < 10_000:
            _grow(node, int(step))
            if not isinstance(node[int(step)], (dict, list)):
                node[int(step)] = empty
            return node[int(step)]
    return None


def _grow(node: list[Any], index: int) -> None:
    while len(node) <= min(index, 10_000):
        node.append(None)


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v) for v in value if v is not None]
    return value


def coerce(contract: Contract, value: Any, schema: Any, uri: str, depth: int = 0) -> Any:
    """Read the strings of a form value as the types its schema gives them."""
    schema, uri = contract.deref(schema, uri) if isinstance(schema, dict) else ({}, uri)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return value
    for key in ("allOf", "anyOf", "oneOf"):
        for index, part in enumerate(schema.get(key) or []):
            resolved = contract.deref(part, f"{uri}/{key}/{index}")[0]
            if isinstance(resolved, dict) and (resolved.get("type") or resolved.get("properties")):
                schema = {**resolved, **{k: v for k, v in schema.items() if k not in (key,)}}
                break
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {
            k: coerce(contract, v, props.get(k, extra if isinstance(extra, dict) else {}), uri, depth + 1)
            for k, v in value.items()
        }
        for name in schema.get("required") or []:  # an empty array has no form spelling: no key at all
            if isinstance(name, str) and name not in out and isinstance(props.get(name), dict):
                resolved = contract.deref(props[name], uri)[0]
                kind = resolved.get("type") if isinstance(resolved, dict) else None
                if kind == "array" or (isinstance(kind, list) and "array" in kind):
                    out[name] = []
        return out
    if isinstance(value, list):
        if kinds and "array" not in kinds and value:
            return coerce(contract, value[-1], schema, uri, depth + 1)
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [coerce(contract, v, items, uri, depth + 1) for v in value]
    if isinstance(value, str):
        if "array" in kinds:
            return [coerce(contract, value, schema.get("items") or {}, uri, depth + 1)]
        if "object" in kinds and value == "":
            return {}
        return coerce_text(value, kinds)
    return value


def form_value(contract: Contract, text: str, schema_uri: str | None) -> Any:
    """A form body as the JSON value its schema describes (ValueError when malformed)."""
    value = nest(parse_form(text))
    if schema_uri is None:
        return value
    return coerce(contract, value, {"$ref": schema_uri}, contract.uri)


def coerce_text(raw: str, kinds: Collection[str]) -> Any:
    """A form or query string as the first of the schema's types it reads as."""
    with contextlib.suppress(ValueError):  # past 4,300 digits int() refuses: left as text
        if "integer" in kinds and _INT.match(raw):
            return int(raw)
        if "number" in kinds and _NUM.match(raw):
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
    if "boolean" in kinds and raw in ("true", "false"):
        return raw == "true"
    if "null" in kinds and raw == "" and "string" not in kinds:
        return None
    return raw


def multipart_value(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart/form-data body as an object: text parts as strings, files as their names
    (ValueError when it has no boundary)."""
    if "boundary=" not in content_type:
        raise ValueError("the multipart body's content type names no boundary")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True)  # bytes for a leaf part, as decode=True gives
        text = (
            filename
            if filename is not None
            else (payload if isinstance(payload, bytes) else b"").decode(
                part.get_content_charset() or "utf-8", "replace"
            )
        )
        pairs.append((str(name), str(text)))
    return nest(pairs)


UTF8 = ("utf-8", "utf8")
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]+)\"?", re.IGNORECASE)


def charset_of(content_type: str) -> str | None:
    """The `charset` parameter of a Content-Type, lower-cased, or None."""
    found = _CHARSET.search(content_type)
    return found.group(1).lower() if found else None


def is_text(media_type: str) -> bool:
    """Media types whose bytes are text in some charset (JSON, forms, XML, text/*)."""
    return (
        media_type.startswith("text/")
        or media_type in ("application/json", "application/x-www-form-urlencoded", "application/xml")
        or media_type.endswith(("+json", "+xml"))
    )


def to_utf8(content_type: str, body: bytes) -> bytes:
    """A text body in another charset (`; charset=iso-8859-1`) as UTF-8; ValueError naming the
    charset when it is unknown or the bytes are not text in it."""
    charset = charset_of(content_type)
    media_type = content_type.split(";")[0].strip().lower()
    if not body or charset is None or charset in UTF8 or not is_text(media_type):
        return body
    try:
        codecs.lookup(charset)
    except LookupError:
        raise ValueError(
            f"unknown charset {charset!r}; send UTF-8, or a charset such as iso-8859-1"
        ) from None
    try:
        text = body.decode(charset)
        if media_type == "application/x-www-form-urlencoded":  # `caf%E9`: escaped bytes in the charset too
            pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
            return urlencode(pairs).encode("ascii")
        return text.encode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not valid {charset} (byte {exc.start})") from None


def as_utf8(headers: dict[str, str], body: bytes | None) -> tuple[dict[str, str], bytes | None]:
    """A request's body transcoded to UTF-8 once, its Content-Type saying so, for code that reads
    UTF-8 only; unchanged when its charset is unknown or wrong (validation reports that)."""
    content_type = headers.get("content-type", "")
    if not body or charset_of(content_type) in (None, *UTF8):
        return headers, body
    try:
        converted = to_utf8(content_type, body)
    except ValueError:
        return headers, body
    if converted is body:
        return headers, body
    return {**headers, "content-type": _CHARSET.sub("; charset=utf-8", content_type)}, converted
