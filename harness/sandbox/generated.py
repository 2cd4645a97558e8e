"""Answers the contract allows: generated responses for operations without state, and repair of
any response that would break the contract before it is sent.

Operations outside a collection still get an answer a client can parse (status, content type,
headers and body as documented), made by harness.synth's generator and seeded from the tenant
and the request, so one seed replays the same answers. Stateful and error responses are checked
the same way; a field that breaks its schema is replaced by a conforming one, and only when that
fails is the whole body regenerated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import timedelta
from typing import Any

from faker import Faker
from starlette.responses import Response

from harness.contract import Contract, Operation, validate_response
from harness.contract.model import Response as ResponseSpec
from harness.contract.pointer import escape
from harness.synth import DEFAULT_CLOCK
from harness.synth.generator import Builder, Compiler, Ctx

ATTEMPTS = 6
PASSES = 6
JSON_LIKE = ("application/json", "+json", "/json")
STRUCTURED = ("link", "location", "set-cookie", "etag", "last-modified", "retry-after")  # grammar, not text
NO_BODY = (204, 304)  # RFC 9110 sections 15.3.5 and 15.4.5: these responses end at their headers


def request_seed(*parts: object) -> int:
    """A stable 64-bit seed from the tenant's seed and what identifies the request."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest(), "big")


class Generator:
    """Values for schema URIs of one contract; builders compiled once, values seeded per call."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.fake = Faker("en_US", use_weighting=False)._factories[0]
        self.compiler = Compiler(contract, self.fake, {}, None)
        self._builders: dict[str, Builder] = {}

    def _builder(self, schema_uri: str) -> Builder:
        build = self._builders.get(schema_uri)
        if build is None:
            schema = {"$ref": schema_uri}
            build = self._builders[schema_uri] = self.compiler.compile(schema, self.contract.uri)
        return build

    def value(self, schema_uri: str | None, seed: int) -> tuple[Any, bool]:
        """A value for the schema and whether it validates (several seeds are tried first)."""
        if schema_uri is None:
            return {}, True
        validator = self.contract.validator(schema_uri)
        value: Any = None
        made = False
        for attempt in range(ATTEMPTS):
            try:
                value, made = self._make(schema_uri, seed + attempt), True
            except Exception:
                continue
            if validator.is_valid(value):
                return value, True
        if not made:  # a required part no value satisfies (as the datasets do): the best there is
            with contextlib.suppress(Exception):
                value = self._make(schema_uri, seed, lenient=True)
        return value, False

    def _make(self, schema_uri: str, seed: int, lenient: bool = False) -> Any:
        self.fake.seed_instance(seed)
        clock = DEFAULT_CLOCK
        ctx = Ctx(
            self.fake,
            seed % 1_000_000,
            clock - timedelta(days=30),
            clock - timedelta(days=1),
            clock - timedelta(days=90),
            0.1,
            lambda collection, index: f"{collection[:3]}_{index}",
            {},
            lenient=lenient,
        )
        return self._builder(schema_uri)(ctx)


def documented_success(op: Operation) -> tuple[int, ResponseSpec | None]:
    """The status to answer a successful call with: the exact 2xx the operation documents."""
    exact = sorted(int(s) for s in op.responses if s.isdigit() and s.startswith("2"))
    if exact:
        return exact[0], op.responses[str(exact[0])]
    if "2XX" in op.responses:
        return 200, op.responses["2XX"]
    if "default" in op.responses:
        return 200, op.responses["default"]
    others = sorted(int(s) for s in op.responses if s.isdigit())
    if others:
        return others[0], op.responses[str(others[0])]
    return 200, None


def pick_media(spec: ResponseSpec | None) -> tuple[str | None, str | None]:
    """The documented media type to answer with (JSON first, then text, then anything)."""
    if spec is None or not spec.media:
        return None, None
    ranked = sorted(spec.media, key=_media_rank)
    media = ranked[0]
    return media, spec.media[media]


def _media_rank(media: str) -> tuple[int, str]:
    if media == "application/json":
        return (0, media)
    if any(media.endswith(s) for s in JSON_LIKE[1:]):
        return (1, media)
    if "*" in media:
        return (4, media)
    if media.startswith("text/"):
        return (2, media)
    return (3, media)


def concrete(media: str) -> str:
    """A media type that can be sent for a documented one (`*/*`, `text/*`, `application/*`)."""
    if media == "*/*":
        return "application/json"
    major, _, minor = media.partition("/")
    if minor == "*":
        return (
            "text/plain"
            if major == "text"
            else "application/json"
            if major == "application"
            else f"{major}/octet-stream"
        )
    return media


def is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json") or media.endswith("/json")


def encode(media: str, value: Any) -> bytes:
    if is_json(media):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if value is None or value == {}:
        return b""
    return (
        json.dumps(value, ensure_ascii=False).encode() if media.startswith("text/") else str(value).encode()
    )


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(header_text(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k},{header_text(v)}" for k, v in value.items())
    text = "" if value is None else str(value)
    return "".join(c for c in text if 0x20 <= ord(c) < 0x7F)


class Responder:
    """Generated answers and repairs for one contract."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.answers = contract.for_answers  # what an answer may hold: no writeOnly properties
        self.values = Generator(self.answers)

    def generate(self, op: Operation, seed: int, method: str = "GET") -> Response:
        """A documented success answer for an operation the sandbox holds no state for."""
        status, spec = documented_success(op)
        return self.build(op, status, spec, seed, head=method == "HEAD")

    def build(
        self, op: Operation, status: int, spec: ResponseSpec | None, seed: int, *, head: bool = False
    ) -> Response:
        headers = self._headers(spec, seed)
        media, schema_uri = pick_media(spec)
        if media is None:
            return Response(b"", status, headers=headers)
        send_as = concrete(media)
        if status in NO_BODY:  # documented with content, but HTTP allows it none: the type only
            return Response(b"", status, media_type=send_as, headers=headers)
        if not is_json(send_as) and schema_uri is None:
            value: Any = "" if not send_as.startswith("text/") else "ok"
        else:
            value, _ = self.values.value(schema_uri, seed)
        body = b"" if head else encode(send_as, value)
        return Response(body, status, media_type=send_as, headers=headers)

    def _headers(self, spec: ResponseSpec | None, seed: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, (required, schema_uri) in (spec.headers if spec else {}).items():
            if name in ("content-type", "content-length", "transfer-encoding"):
                continue
            if name in STRUCTURED and not required:
                continue  # a made-up `Link: land` breaks the client that parses it; none is allowed
            value, ok = self.values.value(schema_uri, request_seed(seed, name)) if schema_uri else ("x", True)
            text = header_text(value)
            if schema_uri and not ok:
                continue
            out[name] = text
        return out

    def conform(
        self, op: Operation, response: Response, seed: int, method: str = "GET"
    ) -> tuple[Response, str]:
        """The response itself when it conforms, else a repaired one; and what was done."""
        body = bytes(response.body)
        status = response.status_code
        spec = op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX")
        if spec is None and str(status).startswith("2") and documented_success(op)[0] != status:
            # only `default` covers it, but the operation names its success code: use that one
            status, spec = documented_success(op)
            conforms = False
        else:
            conforms = not validate_response(self.contract, op, status, dict(response.headers), body)
            spec = op.response_for(status)
        if conforms:
            return response, ""
        if spec is None and not str(status).startswith("2"):
            return response, "unrepaired"  # an error status keeps its meaning even if undocumented
        if spec is None:  # an undocumented status: answer with a documented one of its class
            status, spec = _documented_like(op, status)
            if spec is None:
                return response, "unrepaired"
        media, schema_uri = pick_media(spec)
        headers = {k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")}
        checked = validate_response(self.contract, op, status, headers, b"")
        wrong = {v.pointer.split("/")[2] for v in checked if v.pointer.startswith("/headers/")}
        headers = {k: v for k, v in headers.items() if k not in wrong}  # the handler's `Link` stays
        headers.update({k: v for k, v in self._headers(spec, seed).items() if k not in headers})
        if media is None:
            return Response(b"", status, headers=headers), "repaired"
        send_as = concrete(media)
        if status in NO_BODY:
            return Response(b"", status, media_type=send_as, headers=headers), "repaired"
        value: Any = None
        parsed = False
        if is_json(send_as) and body:
            try:
                value, parsed = json.loads(body), True
            except ValueError:
                parsed = False
        if parsed and schema_uri is not None:
            value = self.patch(schema_uri, value, seed)
            kind = "repaired"
        else:
            fresh = self.build(op, status, spec, seed, head=method == "HEAD")
            fresh_headers = {**headers, **{k: v for k, v in fresh.headers.items() if k != "content-length"}}
            return Response(bytes(fresh.body), status, headers=fresh_headers), "regenerated"
        if not self.answers.validator(schema_uri).is_valid(value):
            value, _ = self.values.value(schema_uri, seed)
            kind = "regenerated"
        out = Response(
            b"" if method == "HEAD" else encode(send_as, value), status, media_type=send_as, headers=headers
        )
        return out, kind

    def patch(self, schema_uri: str, value: Any, seed: int, depth: int = 0) -> Any:
        """Replace each part of `value` that breaks the schema with the same part of a valid value.
        Arrays are patched element by element first, each against its items schema: a valid
        value's array may be shorter or empty, and taking it whole would empty a page."""
        validator = self.answers.validator(schema_uri)
        if validator.is_valid(value):
            return value
        if depth < MAX_PATCH_DEPTH:
            value = self._patch_arrays(schema_uri, value, seed, depth)
        good, ok = self.values.value(schema_uri, seed)
        if not ok:
            return value
        for _ in range(PASSES):
            errors = list(validator.iter_errors(value))
            if not errors:
                return value
            for error in errors[:50]:
                path = list(error.absolute_path)
                if error.validator == "not" and error.validator_value == {} and path:
                    parent = _at(value, path[:-1])
                    if isinstance(parent, dict):  # a property the answer must leave out (writeOnly)
                        parent.pop(path[-1], None)
                        continue
                if error.validator == "required" and isinstance(_at(value, path), dict):
                    target, donor = _at(value, path), _at(good, path)
                    if isinstance(donor, dict):
                        for key in error.validator_value:
                            if key not in target and key in donor:
                                target[key] = donor[key]
                        continue
                if error.validator == "additionalProperties" and isinstance(_at(value, path), dict):
                    target, donor = _at(value, path), _at(good, path)
                    allowed = set(donor) if isinstance(donor, dict) else set()
                    for key in [k for k in target if k not in allowed]:
                        schema_props = (error.schema or {}).get("properties") or {}
                        if key not in schema_props:
                            del target[key]
                    continue
                value = _replace(value, path, good)
        return value

    def _patch_arrays(self, schema_uri: str, value: Any, seed: int, depth: int) -> Any:
        schema, uri = self.contract.deref({"$ref": schema_uri}, self.contract.uri)
        if not isinstance(schema, dict):
            return value
        items = schema.get("items")
        if isinstance(value, list) and isinstance(items, dict):
            return [
                self.patch(f"{uri}/items", v, request_seed(seed, i), depth + 1) for i, v in enumerate(value)
            ]
        props = schema.get("properties")
        if isinstance(value, dict) and isinstance(props, dict):
            out = dict(value)
            for name, inner in value.items():
                if isinstance(inner, list) and isinstance(props.get(name), dict):
                    out[name] = self.patch(f"{uri}/properties/{escape(name)}", inner, seed, depth + 1)
            return out
        return value


MAX_PATCH_DEPTH = 4


def _documented_like(op: Operation, status: int) -> tuple[int, ResponseSpec | None]:
    """A documented status standing in for an undocumented one: 201 for 200 and so on."""
    same_class = sorted(int(s) for s in op.responses if s.isdigit() and s[0] == str(status)[0])
    if same_class:
        return same_class[0], op.responses[str(same_class[0])]
    if str(status).startswith("2"):
        return documented_success(op)
    return status, None


_MISSING = object()


def _at(value: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and isinstance(step, int):
            if not value:
                return _MISSING
            value = value[step] if step < len(value) else value[0]
        else:
            return _MISSING
    return value


def _replace(value: Any, path: list[Any], good: Any) -> Any:
    """`value` with the part at `path` taken from `good` (its parent, if `good` has no such part)."""
    while True:
        donor = _at(good, path)
        if donor is not _MISSING:
            break
        if not path:
            return good
        path = path[:-1]
    if not path:
        return json.loads(json.dumps(donor))
    parent = _at(value, path[:-1])
    if parent is _MISSING:
        return good
    step = path[-1]
    donor = json.loads(json.dumps(donor))
    if isinstance(parent, dict) or (
        isinstance(parent, list) and isinstance(step, int) and step < len(parent)
    ):
        parent[step] = donor
    else:
        return good
    return value
