"""Hand-built evidence for judgement tests: request-log entries and changes, as the sandbox records them."""

from __future__ import annotations

from typing import Any

from harness.checks.context import StreamDiff
from harness.checks.deliveries import Event
from harness.checks.scenario import Delivered, SyncStep
from harness.connectors import ConnectorFailed
from harness.connectors.replica import Operation
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


# -- integrity and webhook evidence (scenario steps, replica operations, deliveries) -------------


def stream_diff(
    stream: str = "contacts",
    truth: int = 10,
    *,
    lost: list[Any] | None = None,
    extra: list[Any] | None = None,
    stale: dict[Any, list[str]] | None = None,
) -> StreamDiff:
    """What `ctx.diff` reports for one stream; `stale` is id -> the fields that differ."""
    return StreamDiff(
        stream, truth, list(lost or []), list(extra or []), list(stale or {}), dict(stale or {})
    )


def sync_step(
    *entries: LoggedRequest, what: str = "the full sync", state: Any = None, error: str | None = None
) -> SyncStep:
    """One scenario sync; `error` makes it end the way a connector that raised ends."""
    failed = ConnectorFailed("sync(state)", RuntimeError(error)) if error is not None else None
    return SyncStep(what, state, failed, log(*entries))


def replica_op(kind: str, record_id: Any, stream: str = "contacts") -> Operation:
    return Operation(kind, stream, record_id, {"id": record_id} if kind == "upsert" else None)


def webhook_event(action: str = "created", collection: str = "contacts") -> Event:
    return Event(f"{collection.removesuffix('s')}.{action}", collection, action, None)


def delivered(
    status: int | str = 204,
    *,
    event: Event | None = None,
    record_id: str = "con_1",
    record: dict[str, Any] | None = None,
    applied: tuple[str, ...] = (),
    row: dict[str, Any] | None = None,
    webhook_id: str = "msg_1",
) -> Delivered:
    """One delivery's outcome; `applied` lists the kinds of the operations it made on its record."""
    event = event or webhook_event()
    return Delivered(
        event=event,
        record_id=record_id,
        record=record if record is not None else {"id": record_id},
        headers={"webhook-id": webhook_id, "webhook-timestamp": "0", "webhook-signature": "v1,x"},
        payload=b"{}",
        status=status,
        applied=tuple((kind, event.collection, record_id) for kind in applied),
        row=row,
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
