"""Observability checks: logs a person can search, correlate and act on when a sync goes wrong.

A connector's log lines are its LOG messages (`sink.log`, LOG lines on stdout), its Python
`logging` records (the worker forwards them with their extras) and every line it writes on
stderr, which must be a JSON object with a level and a message (what structlog, pino,
python-json-logger, slog and tracing print). The checks read them, and the sandbox's request
log, and judge with the pure functions below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, RunError
from harness.checks.failures import Finding
from harness.checks.log_lines import LogLine, is_error, log_lines
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.core import LoggedRequest, RequestLog

RECORDS = 30  # per stream: a page or two; the point is every line of a sync, not volume
SYNC_ID = "sync_id"
REQUEST_ID_HEADERS = ("x-request-id", "traceparent")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


@dataclass(frozen=True)
class SyncLogs:
    """What one sync left: its log lines, the requests it made and how it ended."""

    what: str
    lines: tuple[LogLine, ...]
    requests: RequestLog
    error: RunError | None = None


def run_sync(ctx: CheckContext, tenant: Any, what: str, state: Any = None, **options: Any) -> SyncLogs:
    """sync(state) with a fresh connector; what it logged (LOG messages and stderr) during it."""
    replica: Replica = options.pop("replica", None) or ctx.replica()
    mark, before = tenant.requests().last_seq, len(replica.logs)
    connector = ctx.connector(tenant, replica, **options)
    error: RunError | None = None
    try:
        connector.sync(state)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    finally:
        stderr = connector.diagnostics().stderr
        connector.close()
    return SyncLogs(what, log_lines(replica.logs[before:], stderr), tenant.requests(mark), error)


# -- OBS-01 ---------------------------------------------------------------------------------------


@check("OBS-01", pillar="observability", severity="medium", level="strict", timeout=90)
def structured_logs(ctx: CheckContext) -> None:
    """Its logs are structured: every line is a record with a level and a message.

    A full sync over a page or two of every stream. Each line the connector writes on stderr
    must be one JSON object with a level (`level`, `levelname` or `severity`) and a message
    (`message`, `msg` or `event`), as structlog's JSONRenderer, python-json-logger, pino or Go's
    slog print them; LOG messages and Python `logging` records are structured already. Plain
    text cannot be filtered by level or searched by field in a log aggregator. A sync that logs
    nothing at all fails too: an operator has nothing to go on.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="logs")
    ctx.require(judge_structured(run_sync(ctx, tenant, "the full sync")))


def judge_structured(sync: SyncLogs) -> Finding | None:
    plain = [line for line in sync.lines if line.fields is None]
    if not sync.lines:
        return Finding.of(
            f"logged nothing during {sync.what} ({len(sync.requests)} requests)"
            + (f"; it failed: {sync.error}" if sync.error else ""),
            expected="a structured log line for what the sync does (started, each page, finished)",
        )
    if not plain:
        return None
    return Finding.of(
        f"wrote {len(plain)} of {len(sync.lines)} log lines of {sync.what} as plain text, not structured "
        f"records, e.g. {plain[0].quoted()}",
        expected='one JSON object a line on stderr with a level and a message, e.g. {"level": "info", '
        '"message": "page fetched", "stream": "contacts"}, or sink.log / LOG messages',
        lines=[line.quoted() for line in plain[:5]],
    )


# -- OBS-02 ---------------------------------------------------------------------------------------


@check("OBS-02", pillar="observability", severity="medium", level="strict", timeout=120)
def sync_correlation_id(ctx: CheckContext) -> None:
    """Every log line of a sync carries the sync's correlation id, `sync_id`, new for each sync.

    A full sync, then an incremental one from its state, each with a fresh connector. Every
    structured line of one sync must have the same non-empty `sync_id` field (a bound logger
    does this: structlog's `bind`, a `LoggerAdapter`, pino's `child`), and the two syncs must
    have different ones, so an operator can pull out everything one run logged.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="sync-id")
    replica = ctx.replica()
    full = run_sync(ctx, tenant, "the full sync", replica=replica)
    incremental = run_sync(ctx, tenant, "the incremental sync", replica.state, replica=replica)
    ctx.require(judge_sync_ids([full, incremental]))


def judge_sync_ids(syncs: Sequence[SyncLogs]) -> Finding | None:
    seen: dict[str, str] = {}  # sync id -> the sync that used it
    for sync in syncs:
        lines = [line for line in sync.lines if line.fields is not None]
        if not lines:
            return Finding.of(
                f"logged no structured line during {sync.what}, so nothing carries a {SYNC_ID}",
                expected=f"every log line of a sync with the same {SYNC_ID}",
            )
        missing = [line for line in lines if not _id_value(line.fields, SYNC_ID)]
        if missing:
            return Finding.of(
                f"{len(missing)} of {len(lines)} log lines of {sync.what} carry no {SYNC_ID}, "
                f"e.g. {missing[0].quoted()}",
                expected=f'every log line of a sync with the same {SYNC_ID}, e.g. "{SYNC_ID}": "3f2a9c"',
                lines=[line.quoted() for line in missing[:5]],
            )
        ids = sorted({_id_value(line.fields, SYNC_ID) for line in lines})
        if len(ids) > 1:
            return Finding.of(
                f"{sync.what} logged {len(ids)} different {SYNC_ID}s ({', '.join(ids[:4])}): "
                "one sync, one id",
                expected=f"the same {SYNC_ID} on every line of one sync",
            )
        if ids[0] in seen:
            return Finding.of(
                f"{seen[ids[0]]} and {sync.what} logged the same {SYNC_ID} {ids[0]!r}: their lines "
                f"cannot be told apart",
                expected=f"a new {SYNC_ID} for each sync (a UUID, say)",
            )
        seen[ids[0]] = sync.what
    return None


def _id_value(fields: Mapping[str, Any] | None, name: str) -> str:
    value = (fields or {}).get(name)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else ""


# -- OBS-03 ---------------------------------------------------------------------------------------


@check("OBS-03", pillar="observability", severity="medium", level="strict", timeout=90)
def request_correlation_id(ctx: CheckContext) -> None:
    """Each API request carries a request id (`X-Request-Id` or `traceparent`) that its logs repeat.

    A full sync. Every request to the API must send an `X-Request-Id` header (or a W3C
    `traceparent`), a different one for each request (a retry may repeat its own), and each id
    must appear in a log line of the sync (`"request_id": ...`; for `traceparent`, the header or
    its parent id): the platform's support finds a request by the id in its own logs, the
    connector's operator by the same id in theirs.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="request-id")
    ctx.require(judge_request_ids(run_sync(ctx, tenant, "the full sync")))


def request_id(entry: LoggedRequest) -> tuple[str, str] | None:
    """(header, value) of the request's correlation id, or None."""
    for name in REQUEST_ID_HEADERS:
        value = entry.headers.get(name, "").strip()
        if value:
            return name, value
    return None


def _logged_forms(header: str, value: str) -> tuple[str, ...]:
    """What counts as the id in a log line: the value; for traceparent also its parent id."""
    match = TRACEPARENT.match(value.lower()) if header == "traceparent" else None
    return (value, match.group(2)) if match else (value,)


def judge_request_ids(sync: SyncLogs) -> Finding | None:
    api = sync.requests.api()
    if not api:
        return Finding.of(f"made no API request during {sync.what}", expected="a sync that reads the API")
    ids = {e.seq: found for e in api if (found := request_id(e)) is not None}
    missing = [e for e in api if e.seq not in ids]
    if missing:
        return Finding.of(
            f"sent {len(missing)} of {len(api)} API requests of {sync.what} without a request id "
            f"(X-Request-Id or traceparent), e.g. {missing[0].line()}",
            expected="an X-Request-Id header (a UUID) on every API request, repeated in its log line",
            requests=missing[:5],
        )
    by_value: dict[str, list[LoggedRequest]] = {}
    for entry in api:
        by_value.setdefault(ids[entry.seq][1], []).append(entry)
    for value, entries in by_value.items():
        if len({e.target for e in entries}) > 1:
            return Finding.of(
                f"sent the same request id {value!r} on {len(entries)} different requests "
                f"({entries[0].line()}, {entries[1].line()}, ...): it correlates nothing",
                expected="a new request id for each request (a retry may repeat its own)",
                requests=entries[:5],
            )
    texts = [line.text for line in sync.lines]
    unlogged = [e for e in api if not any(f in t for f in _logged_forms(*ids[e.seq]) for t in texts)]
    if unlogged:
        header, value = ids[unlogged[0].seq]
        return Finding.of(
            f"{len(unlogged)} of {len(api)} request ids of {sync.what} appear in no log line, e.g. "
            f"{header} {value} of {unlogged[0].line()}",
            expected='a log line for each request that repeats its id, e.g. {"message": "request", '
            '"request_id": "<the X-Request-Id sent>", "status": 200}',
            requests=unlogged[:5],
        )
    return None


# -- OBS-04 ---------------------------------------------------------------------------------------


@check("OBS-04", pillar="observability", severity="medium", level="strict", timeout=60)
def error_logged_with_cause(ctx: CheckContext) -> None:
    """A failure is logged at error level with its cause: the status code and the operation.

    The connector's client is revoked, so the platform refuses its requests (401, or 400/401
    `invalid_client` at the token endpoint): a failure no retry fixes. Whatever the sync then
    does (it should fail, AUTH-04), its logs must hold an error-level line that names a refused
    request's status code and its operation (the path, e.g. `/v1/contacts`, or the operationId):
    an operator paged at night reads the log, not the connector's exception.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="error-log")
    tenant.revoke(tenant.client_id)
    timeout = min(ctx.call_timeout, REVOKED_CALL_TIMEOUT)
    ctx.require(
        judge_error_logged(run_sync(ctx, tenant, "the sync with revoked credentials", timeout=timeout))
    )


def judge_error_logged(sync: SyncLogs) -> Finding | None:
    refused = [e for e in sync.requests if 400 <= e.status < 500]
    if not refused:
        return Finding.of(
            f"{sync.what} had no request refused ({len(sync.requests)} requests): no error to log",
            expected="requests refused with 401 after the client was revoked",
        )
    ended = f"failed ({sync.error})" if sync.error else "returned normally"
    errors = [line for line in sync.lines if is_error(line.level)]
    cause = refused[-1]
    if not errors:
        plain = [line for line in sync.lines if line.fields is None and str(cause.status) in line.text]
        return Finding.of(
            f"logged no error-level line although {cause.line()} refused it ({sync.what} {ended})"
            + (f"; only a plain-text line mentions it: {plain[0].quoted()}" if plain else ""),
            expected=f'an error-level log line naming the status and the operation, e.g. {{"level": "error", '
            f'"message": "sync failed", "status": {cause.status}, "path": "{cause.path}"}}',
            requests=refused[:5],
        )
    if any(_names(line.text, e) for line in errors for e in refused):
        return None
    return Finding.of(
        f"logged {len(errors)} error-level line(s), but none names a refused request's status and operation "
        f"(e.g. {cause.status} and {cause.path}): {errors[0].quoted()}",
        expected=f"the error line names the status ({cause.status}) and the operation ({cause.path} "
        f"or {cause.operation or 'its operationId'})",
        requests=refused[:5],
    )


def _names(text: str, entry: LoggedRequest) -> bool:
    """Does the text name this request's status code and its operation (path or operationId)?"""
    status = re.search(rf"(?<!\d){entry.status}(?!\d)", text) is not None
    operation = entry.path in text or (entry.operation is not None and entry.operation in text)
    return status and operation
