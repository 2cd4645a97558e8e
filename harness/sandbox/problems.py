"""RFC 9457 problem details: the one shape every sandbox error takes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from harness.contract import Contract, Operation, Violation
from harness.contract.pointer import unescape

if TYPE_CHECKING:
    from harness.sandbox.generated import Responder

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    kind: str = "about:blank",
    violations: list[Violation] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": kind,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    if violations:
        body["errors"] = [{"pointer": v.pointer, "detail": v.message} for v in violations]
    return Response(dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        dumps(body), status_code=status, media_type="application/json", headers=dict(headers or {})
    )


def dumps(value: Any) -> bytes:
    """Compact JSON in UTF-8. orjson encodes a page in a tenth of the stdlib's time; what it
    refuses (integers past 64 bits) the stdlib encodes as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


CODE_NAMES = ("code", "error", "error_code", "errorCode")
TEXT_NAMES = ("message", "detail", "error_description", "description", "msg")
STATUS_NAMES = ("status", "status_code", "statusCode")
PARAM_NAMES = ("param", "parameter", "field")


def conform_error(
    contract: Contract,
    op: Operation,
    response: Response,
    responder: Responder | None = None,
    seed: int = 0,
) -> Response:
    """Reshape a problem+json error into the error body the operation documents, if it differs.

    Contracts that predate RFC 9457 document their own error shape (`{code, message}`, Stripe's
    `{error: {type, message}}`); the sandbox must answer in that shape to stay contract-true.
    With a responder the body is generated from the documented schema and its message-, code-
    and status-like fields (at any depth) carry the error; without one, only the top level is built.
    """
    spec = op.response_for(response.status_code)
    if spec is None or not spec.media or PROBLEM_JSON in spec.media:
        return response
    media, schema_uri = next(((m, u) for m, u in spec.media.items() if "json" in m), (None, None))
    if media is None:
        return response
    problem_body = orjson.loads(bytes(response.body))
    headers = {k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")}
    if responder is not None and schema_uri:
        generated, ok = responder.values.value(schema_uri, seed)
        if ok:
            validator = contract.for_answers.validator(schema_uri)
            _fill(generated, problem_body, response.status_code, validator.is_valid, generated)
            return Response(
                dumps(generated), status_code=response.status_code, media_type=media, headers=headers
            )
    schema = contract.deref({"$ref": schema_uri}, contract.uri)[0] if schema_uri else {}
    values = {
        "code": problem_body["title"].lower().replace(" ", "_"),
        "text": problem_body.get("detail", ""),
        "status": response.status_code,
    }
    body: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        prop = contract.deref(prop, contract.uri)[0]
        kind = prop.get("type")
        if name in CODE_NAMES:
            body[name] = values["code"] if kind != "integer" else response.status_code
        elif name in TEXT_NAMES or name == "title":
            body[name] = values["text"] if name != "title" else problem_body["title"]
        elif name in STATUS_NAMES:
            body[name] = response.status_code if kind in ("integer", None) else str(response.status_code)
        elif name in (schema.get("required") or []):
            body[name] = response.status_code if kind == "integer" else values["text"]
    return Response(dumps(body), status_code=response.status_code, media_type=media, headers=headers)


# Where a code or type field is an enum the error's own code is not in (Stripe's `error.type`),
# the generic name of its class, so an SDK raises the right exception (not a random enum value's).
CLASS_CODES = {
    False: ("invalid_request_error", "invalid_request", "bad_request", "client_error", "not_found"),
    True: ("api_error", "server_error", "internal_error", "internal_server_error"),
}


def _fill(
    node: Any, problem_body: dict[str, Any], status: int, valid: Any, root: Any, depth: int = 0
) -> None:
    """Write the error's text, code and status into a generated error body, keeping it valid."""
    if depth > 3 or not isinstance(node, dict):
        return
    code = problem_body["title"].lower().replace(" ", "_")
    text = problem_body.get("detail", "")
    for name in list(node):
        old = node[name]
        if isinstance(old, dict):
            _fill(old, problem_body, status, valid, root, depth + 1)
            continue
        lowered = name.lower()
        if lowered in TEXT_NAMES or lowered == "title":
            candidates: list[Any] = [text if lowered != "title" else problem_body["title"]]
        elif name in CODE_NAMES or lowered == "type":
            candidates = [code, *CLASS_CODES[status // 100 == 5], status, str(status)]
        elif name in STATUS_NAMES:
            candidates = [status, str(status)]
        elif lowered in PARAM_NAMES:
            candidates = [_param_named(problem_body)]
            if candidates[0] is None:  # no parameter is at fault: none named (where optional)
                node.pop(name)
                if not valid(root):
                    node[name] = old
                continue
        else:
            continue
        for candidate in candidates:
            if type(candidate) is not type(old):
                continue
            node[name] = candidate
            if valid(root):
                break
            node[name] = old


def _param_named(problem_body: dict[str, Any]) -> str | None:
    """The parameter the first violation is about, as a client names it: `/query/limit` is
    `limit`, `/body/metadata/plan` is `metadata[plan]` (Stripe's `param`)."""
    errors = problem_body.get("errors") or ()
    pointer = errors[0].get("pointer") if errors and isinstance(errors[0], dict) else None
    steps = [unescape(s) for s in str(pointer or "").split("/")[2:] if s]
    if not steps:
        return None
    return steps[0] + "".join(f"[{step}]" for step in steps[1:])
