"""RFC 9457 problem details: the one shape every sandbox error takes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from harness.contract import Contract, Operation, Violation

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
    return Response(
        json.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


CODE_NAMES = ("code", "error", "error_code", "errorCode")
TEXT_NAMES = ("message", "detail", "error_description", "description", "msg")
STATUS_NAMES = ("status", "status_code", "statusCode")


def conform_error(contract: Contract, op: Operation, response: Response) -> Response:
    """Reshape a problem+json error into the error body the operation documents, if it differs.

    Contracts that predate RFC 9457 document their own error shape (`{code, message}`); the
    sandbox must answer in that shape to stay contract-true.
    """
    spec = op.response_for(response.status_code)
    if spec is None or not spec.media or PROBLEM_JSON in spec.media:
        return response
    media, schema_uri = next(((m, u) for m, u in spec.media.items() if "json" in m), (None, None))
    if media is None:
        return response
    schema = contract.deref({"$ref": schema_uri}, contract.uri)[0] if schema_uri else {}
    problem_body = json.loads(bytes(response.body))
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
    headers = {k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")}
    return Response(json.dumps(body), status_code=response.status_code, media_type=media, headers=headers)
