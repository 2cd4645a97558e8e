"""The request log as checks read it: one typed entry per request the sandbox answered.

Secrets never reach these records (the sandbox masks them before logging). `line()` is the one
way a request is written in a message: `GET /v1/contacts?limit=1000 -> 400`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload


@dataclass(frozen=True)
class RequestViolation:
    """Where a request broke the contract (`/query/limit`) and how."""

    pointer: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


@dataclass(frozen=True)
class Auth:
    """Who made a request and with what credential, as the sandbox judged it (no secrets)."""

    credential: str | None = None  # header | query | body | cookie
    scheme: str | None = None
    grant: str | None = None  # at the token endpoint: the grant_type asked for
    client_id: str | None = None
    token_id: str | None = None
    scopes: tuple[str, ...] = ()
    error: str | None = None  # missing_token, expired_token, insufficient_scope, token_in_query, ...
    handler_failed: bool = False
    idempotent_replay: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Auth:
        data = data or {}
        return cls(
            credential=data.get("credential"),
            scheme=data.get("scheme"),
            grant=data.get("grant"),
            client_id=data.get("client_id"),
            token_id=data.get("token_id"),
            scopes=tuple(data.get("scopes") or ()),
            error=data.get("error"),
            handler_failed=bool(data.get("handler_failed")),
            idempotent_replay=bool(data.get("idempotent_replay")),
        )

    def to_json(self) -> dict[str, Any]:
        """What the sandbox sent: only the fields that are set."""
        out: dict[str, Any] = {
            "credential": self.credential,
            "scheme": self.scheme,
            "grant": self.grant,
            "client_id": self.client_id,
            "token_id": self.token_id,
            "scopes": list(self.scopes),
            "error": self.error,
            "handler_failed": self.handler_failed,
            "idempotent_replay": self.idempotent_replay,
        }
        return {k: v for k, v in out.items() if v not in (None, [], False)}


@dataclass(frozen=True)
class LoggedRequest:
    seq: int
    time: float  # when it arrived, seconds since the epoch (the sandbox's clock)
    method: str
    path: str
    status: int
    operation: str | None = None  # the contract's operationId, None when no route matched
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names, secrets masked
    body_digest: str = ""
    body_size: int = 0
    latency_ms: float = 0.0
    violations: tuple[RequestViolation, ...] = ()
    response_violations: tuple[RequestViolation, ...] = ()
    repair: str = ""
    auth: Auth = field(default_factory=Auth)
    faults: tuple[str, ...] = ()  # the kinds of the scripted faults that fired on it
    held_ms: float = 0.0  # under a stall or trickle fault: how long the sandbox held the answer
    abandoned: bool = False  # the client closed the connection before the answer was complete
    # the query string as the connector sent it, unmasked: SEC-01 judges credentials in URLs
    # from it; never rendered (not in repr, `line`, `summary` or `query_string`)
    raw_query: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoggedRequest:
        """One entry of `GET /_sandbox/tenants/{id}/requests`; unknown fields are ignored."""
        return cls(
            seq=int(data["seq"]),
            time=float(data["time"]),
            method=str(data["method"]),
            path=str(data["path"]),
            status=int(data.get("status", 0)),
            operation=data.get("operation"),
            query={str(k): tuple(str(v) for v in vs) for k, vs in (data.get("query") or {}).items()},
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            body_digest=str(data.get("body_digest", "")),
            body_size=int(data.get("body_size", 0)),
            latency_ms=float(data.get("latency_ms", 0.0)),
            violations=_violations(data.get("violations")),
            response_violations=_violations(data.get("response_violations")),
            repair=str(data.get("repair", "")),
            auth=Auth.from_json(data.get("auth")),
            faults=tuple(data.get("faults") or ()),
            held_ms=float(data.get("held_ms", 0.0)),
            abandoned=bool(data.get("abandoned", False)),
            raw_query=str(data.get("raw_query") or ""),
        )

    @property
    def responded(self) -> float:
        """When the sandbox had its answer ready (arrival plus its own service time), epoch seconds."""
        return self.time + self.latency_ms / 1000

    @property
    def query_string(self) -> str:
        return "&".join(f"{k}={v}" for k, vs in self.query.items() for v in vs)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def target(self) -> tuple[str, str]:
        """What a retry repeats: the operation (or method and path) and the sorted query."""
        query = "&".join(f"{k}={v}" for k, vs in sorted(self.query.items()) for v in vs)
        return self.operation or f"{self.method} {self.path}", query

    def faulted(self, *kinds: str) -> bool:
        """A scripted fault of one of these kinds (any kind, when none given) fired on it."""
        return bool(self.faults) if not kinds else bool(set(kinds) & set(self.faults))

    def line(self) -> str:
        """`GET /v1/contacts?limit=1000 -> 400` (secrets in the query are masked by the sandbox)."""
        query = self.query_string
        return f"{self.method} {self.path}{'?' + query if query else ''} -> {self.status}"

    def summary(self) -> dict[str, Any]:
        """What a person reads in a report: the fields that say something about this request."""
        full = {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": {k: list(vs) for k, vs in self.query.items()},
            "status": self.status,
            "operation": self.operation,
            "violations": [v.to_json() for v in self.violations],
            "auth": self.auth.to_json(),
        }
        return {k: v for k, v in full.items() if v not in (None, [], {})}


def _violations(items: Iterable[Mapping[str, Any]] | None) -> tuple[RequestViolation, ...]:
    return tuple(RequestViolation(str(v.get("pointer", "")), str(v.get("message", ""))) for v in items or ())


class RequestLog(Sequence[LoggedRequest]):
    """A piece of a tenant's request log, in arrival order, with the queries checks ask of it.

    Every query returns another RequestLog, so they chain: `log.api().to(op).status(429)`.
    `token_operation` names the token endpoint's operation, which `api()` leaves out.
    """

    def __init__(self, entries: Iterable[LoggedRequest] = (), token_operation: str | None = None) -> None:
        self._entries = tuple(entries)
        self.token_operation = token_operation

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]], token_operation: str | None = None) -> RequestLog:
        return cls((LoggedRequest.from_json(e) for e in data), token_operation)

    def _where(self, keep: Any) -> RequestLog:
        return RequestLog((e for e in self._entries if keep(e)), self.token_operation)

    def to(self, *operations: str | None) -> RequestLog:
        """Requests to any of these operations."""
        wanted = set(operations)
        return self._where(lambda e: e.operation in wanted)

    def since(self, seq: int) -> RequestLog:
        """Requests that arrived after the one numbered `seq`."""
        return self._where(lambda e: e.seq > seq)

    def until(self, moment: float) -> RequestLog:
        """Requests that arrived at or before `moment` (epoch seconds)."""
        return self._where(lambda e: e.time <= moment)

    def api(self) -> RequestLog:
        """Requests to the API, not to the token endpoint (which has its own rules)."""
        return self._where(lambda e: e.operation != self.token_operation and e.auth.grant is None)

    def token(self) -> RequestLog:
        """Requests to the token endpoint: its operation, or (where the contract does not list it
        among its paths) the requests the sandbox answered there, which record their grant."""
        return self._where(
            lambda e: (
                (self.token_operation is not None and e.operation == self.token_operation)
                or e.auth.grant is not None
            )
        )

    def status(self, *codes: int) -> RequestLog:
        wanted = set(codes)
        return self._where(lambda e: e.status in wanted)

    def failed(self) -> RequestLog:
        """Requests answered with a 4xx or 5xx."""
        return self._where(lambda e: e.status >= 400)

    def faulted(self, *kinds: str) -> RequestLog:
        return self._where(lambda e: e.faulted(*kinds))

    def auth_error(self, *errors: str) -> RequestLog:
        wanted = set(errors)
        return self._where(lambda e: e.auth.error in wanted)

    def after(self, entry: LoggedRequest) -> RequestLog:
        return self.since(entry.seq)

    def next_after(self, entry: LoggedRequest) -> LoggedRequest | None:
        """The first request in this log that arrived after `entry`."""
        return next((e for e in self._entries if e.seq > entry.seq), None)

    @property
    def last_seq(self) -> int:
        """The number of the last request, 0 for an empty log: a mark for `since`."""
        return self._entries[-1].seq if self._entries else 0

    def lines(self) -> list[str]:
        return [e.line() for e in self._entries]

    @overload
    def __getitem__(self, index: int) -> LoggedRequest: ...

    @overload
    def __getitem__(self, index: slice) -> RequestLog: ...

    def __getitem__(self, index: int | slice) -> LoggedRequest | RequestLog:
        if isinstance(index, slice):
            return RequestLog(self._entries[index], self.token_operation)
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self._entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RequestLog):
            return self._entries == other._entries
        if isinstance(other, list | tuple):
            return list(self._entries) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RequestLog({len(self._entries)} requests)"
