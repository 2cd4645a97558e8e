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
