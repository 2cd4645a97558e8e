"""Hand-built evidence for judgement tests: request-log entries and changes, as the sandbox records them."""

from __future__ import annotations

from typing import Any

from harness.core import ChangeEvent, LoggedRequest, RequestLog

TOKEN_OP = "issueToken"


def request(
    seq: int,
    status: int = 200,
    *,
    time: float | None = None,
    operation: str | None = "listContacts",
    method: str = "GET",
    path: str = "/contacts",
    query: dict[str, list[str]] | None = None,
    **fields: Any,
) -> LoggedRequest:
    return LoggedRequest.from_json(
        {
            "seq": seq,
            "time": float(seq) if time is None else time,
            "method": method,
            "path": path,
            "status": status,
            "operation": operation,
            "query": query or {},
            **fields,
        }
    )


def log(*entries: LoggedRequest) -> RequestLog:
    return RequestLog(entries, token_operation=TOKEN_OP)


def change(seq: int, kind: str, record_id: str, *, by: str = "harness", **record: Any) -> ChangeEvent:
    return ChangeEvent.from_json(
        {
            "seq": seq,
            "type": kind,
            "collection": "contacts",
            "id": record_id,
            "by": by,
            "record": None if kind == "deleted" else {"id": record_id, **record},
        }
    )


# -- auth, contract, data and secrets evidence (how a call ended, who a request was) -------------


def raised(message: str = "boom", call: str = "sync(None)", traceback_text: str = "") -> Any:
    """A connector call that raised RuntimeError(message), as the driver reports it."""
    from harness.connectors import ConnectorFailed

    return ConnectorFailed(call, RuntimeError(message), traceback_text)


def hung(call: str = "sync(None)", seconds: float = 10.0) -> Any:
    from harness.connectors import ConnectorTimeout

    return ConnectorTimeout(call, seconds)


def token_request(seq: int, status: int = 200, **fields: Any) -> LoggedRequest:
    """A request to the token endpoint (operation TOKEN_OP)."""
    return request(seq, status, operation=TOKEN_OP, method="POST", path="/oauth/token", **fields)


def authed(
    seq: int,
    status: int = 200,
    *,
    token: str = "tok_1",
    scopes: tuple[str, ...] = ("contacts:read",),
    error: str | None = None,
    credential: str = "header",
    **fields: Any,
) -> LoggedRequest:
    """An API request that presented an issued token (`token` its id) with these scopes."""
    auth = {"credential": credential, "token_id": token, "scopes": list(scopes), "error": error}
    return request(seq, status, auth=auth, **fields)
