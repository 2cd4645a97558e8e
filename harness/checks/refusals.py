"""Resilience against refusals: a 4xx that no retry can fix ends the sync (or the push), with a
clear error. RES-03 refuses a missing scope; RES-06 every client error an operation documents."""

from __future__ import annotations

from collections import Counter

from harness.checks.context import CheckContext, RunError
from harness.checks.contract import push_bodies
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.checks.resilience import error_text
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.contract import Operation
from harness.contract.collections import find_feed
from harness.contract.offers import CLIENT_ERRORS, client_errors
from harness.core import Fault, RequestLog
from harness.runtime import TenantHandle

MAX_REFUSED_ATTEMPTS = 2  # requests to an operation refused with a 4xx that retrying cannot fix
REFUSED_CALL_TIMEOUT = 15.0  # seconds a sync may take to give up on a refused operation
# the client errors no retry fixes; RES-06 provokes each one an operation documents, exactly or as
# 4XX. Not 401: to a client it is a token expiry until a fresh token is refused too, and a refusal
# of every fresh token is what AUTH-03 (token expiry) and AUTH-04 (revoked credentials) judge.
NON_RETRYABLE = CLIENT_ERRORS
documented = client_errors


@check("RES-03", pillar="resilience", severity="high", level="standard", timeout=60, requires=("scopes",))
def stops_on_non_retryable_errors(ctx: CheckContext) -> None:
    """Stops with a clear error on a 4xx that retrying cannot fix, instead of looping.

    The connector's client lacks the scope one stream's list operation needs, so the platform
    answers that operation with 403 `insufficient_scope`. No retry can fix that: `sync` must fail
    with an error that says what was refused (not hang, not report success) after at most
    two requests to that operation.
    """
    streams = list(ctx.manifest.streams)
    chosen = _scope_only_one_stream_needs(ctx, streams)
    if chosen is None:
        raise NotApplicable(
            "no stream's list operation needs a scope that the connector's other lists do not"
        )
    stream, scope = chosen
    scopes = [s for s in ctx.manifest.scopes if s != scope]
    tenant = ctx.tenant(purpose="missing-scope", scopes=scopes)
    config = ctx.config(tenant)
    config["scopes"] = scopes
    timeout = min(ctx.call_timeout, REFUSED_CALL_TIMEOUT)
    run = ctx.sync(tenant, config=config, timeout=timeout)
    operation = ctx.list_op(stream)
    ctx.require(judge_refused_attempts(run.requests, run.error, operation, scope, stream, timeout))
    ctx.require(judge_refusal_reported(run.requests.to(operation), run.error, stream, timeout))


def final_refusals(calls: RequestLog) -> RequestLog:
    """The answers no retry can fix: a 4xx, but 401 (refresh the token) and 429 (wait)."""
    return RequestLog(e for e in calls if 400 <= e.status < 500 and e.status not in (401, 429))


def judge_refused_attempts(
    requests: RequestLog, error: BaseException | None, operation: str, scope: str, stream: str, timeout: float
) -> Finding | None:
    """The operation was refused, and the connector sent it at most MAX_REFUSED_ATTEMPTS times."""
    calls = requests.to(operation)
    refused = final_refusals(calls)
    if not refused:
        return Finding.of(
            f"never requested {operation} without the {scope} scope, so there was nothing to refuse "
            f"({len(calls)} request(s) to it; the sync "
            f"{'failed: ' + error_text(error) if error else 'passed'})",
            expected=f"the sync reads {stream} and is refused with 403",
            requests=requests[-5:],
        )
    if len(calls) <= MAX_REFUSED_ATTEMPTS:
        return None
    first = refused[0]
    statuses = ", ".join(f"{s} x{n}" for s, n in sorted(Counter(e.status for e in calls).items()))
    spent = calls[-1].time - calls[0].time
    return Finding.of(
        f"retried a non-retryable error: sent {len(calls)} requests to {operation} ({statuses}) over "
        f"{spent:.1f} s although the first was refused with {first.line()} insufficient_scope"
        + (f"; it did not stop within {timeout:g} s" if isinstance(error, ConnectorTimeout) else ""),
        expected=f"give up after at most {MAX_REFUSED_ATTEMPTS} requests: a 4xx (but 401, 429) is final",
        requests=calls,
        attempts=len(calls),
    )


def judge_refusal_reported(
    calls: RequestLog, error: BaseException | None, stream: str, timeout: float
) -> Finding | None:
    """The sync failed promptly, with an error that names the refusal."""
    refused = final_refusals(calls)
    if not refused:
        return None
    first = refused[0]
    if isinstance(error, ConnectorTimeout):
        return Finding.of(
            f"hung after {first.line()}: sync did not return within {timeout:g} s",
            expected="sync fails promptly with an error naming the refused request",
            requests=refused,
        )
    if error is None:
        return Finding.of(
            f"sync reported success although {first.line()} (insufficient_scope) means {stream} was "
            f"not synced; a customer would never learn that data is missing",
            expected="sync fails with an error (an exception, or a non-zero exit status) naming the refusal",
            requests=refused,
        )
    text = error_text(error, full=True).lower()
    words = (str(first.status), "forbidden", "scope", "permission", first.path.lower())
    if any(word in text for word in words):
        return None
    return Finding.of(
        f"failed without saying why: its error mentions neither the status ({first.status}), the "
        f"path ({first.path}) nor the missing scope: {error_text(error)}",
        expected=f"an error that names the refusal, e.g. 'GET {first.path} failed with HTTP 403'",
        requests=refused,
    )


def _scope_only_one_stream_needs(ctx: CheckContext, streams: list[str]) -> tuple[str, str] | None:
    """(stream, scope): a scope the manifest asks for that one stream's list needs and no other one."""
    needs = {s: set(ctx.contract.collections[s].list_op.scopes) for s in streams}
    feed = [op for op in (find_feed(ctx.contract),) if op is not None]
    for stream in reversed(streams):
        others = set().union(*(needs[s] for s in streams if s != stream), *(op.scopes for op in feed))
        own = sorted((needs[stream] - others) & set(ctx.manifest.scopes))
        if own:
            return stream, own[0]
    return None


@check(
    "RES-06", pillar="resilience", severity="high", level="standard", timeout=180, requires=("client_errors",)
)
def retries_no_client_error(ctx: CheckContext) -> None:
    """Retries none of the client errors an operation documents, on reads and on writes.

    For each of 400, 403, 404, 409 and 422 that a synced stream's list operation, or a pushed
    stream's create operation, documents (exactly or as `4XX`), the platform refuses that
    operation with that status, in the contract's error shape, every time it is asked. The
    connector may send the refused request at most twice, then must stop: the sync or the push
    fails, or a push skips the refused record. The same request gets the same refusal however
    often it is sent; a retry loop hammers the platform and hides the real error. Judged by
    counting the requests in the sandbox's log, not by time.
    """
    reads = [(op, status) for op in _list_ops(ctx) for status in documented(op)]
    writes = [(stream, op, status) for stream, op in _create_ops(ctx) for status in documented(op)]
    if not reads and not writes:
        raise NotApplicable(
            "no list or create operation of the connector documents a client error "
            f"({', '.join(map(str, NON_RETRYABLE))})"
        )
    read_once: set[int] = set()  # one list operation per status is enough
    tenant = ctx.tenant({s: 5 for s in (*ctx.manifest.streams, *ctx.manifest.pushes)}, purpose="refusals")
    for op, status in reads:
        if status in read_once:
            continue
        read_once.add(status)
        mark = tenant.requests().last_seq
        tenant.set_faults([Fault.error(status, op.operation_id, times=None)])
        error = ctx.sync(tenant, check_first=False, timeout=REFUSED_CALL_TIMEOUT).error
        ctx.require(judge_client_error_retried(tenant.requests(mark), op.operation_id, status, "read", error))
    for stream, op, status in writes:
        records = push_bodies(ctx, tenant, stream, 1)
        mark = tenant.requests().last_seq
        tenant.set_faults([Fault.error(status, op.operation_id, times=None)])
        error = _push(ctx, tenant, stream, records)
        ctx.require(
            judge_client_error_retried(tenant.requests(mark), op.operation_id, status, "write", error)
        )
    tenant.clear_faults()


def _list_ops(ctx: CheckContext) -> list[Operation]:
    return [ctx.contract.collections[s].list_op for s in ctx.manifest.streams]


def _create_ops(ctx: CheckContext) -> list[tuple[str, Operation]]:
    """(stream, create operation) for each pushed stream the contract can create."""
    cols = [ctx.contract.collections.get(s) for s in ctx.manifest.pushes]
    return [(col.name, col.create_op) for col in cols if col is not None and col.create_op is not None]


def _push(ctx: CheckContext, tenant: TenantHandle, stream: str, records: list[dict]) -> RunError | None:
    connector = ctx.connector(tenant, timeout=REFUSED_CALL_TIMEOUT)
    try:
        connector.push(stream, records)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        return exc
    finally:
        connector.close()
    return None


def judge_client_error_retried(
    log: RequestLog, operation: str, status: int, kind: str, error: BaseException | None
) -> Finding | None:
    """At most MAX_REFUSED_ATTEMPTS requests to an operation the platform refuses with `status`
    every time. A run that never sent it proves nothing, and says so."""
    calls = log.api().to(operation)
    refused = RequestLog(e for e in calls if e.status == status)
    if not refused:
        return Finding.of(
            f"never sent {operation} while the platform refused it with {status}, so there was nothing "
            f"to judge ({len(log.api())} API request(s); "
            + (f"it failed: {error_text(error)})" if error else "it reported success)"),
            expected=f"the {'sync lists' if kind == 'read' else 'push creates'} with {operation}",
            requests=log[-5:],
        )
    if len(calls) <= MAX_REFUSED_ATTEMPTS:
        return None
    first = refused[0]
    return Finding.of(
        f"retried a non-retryable {status} on a {kind}: sent {len(calls)} requests to {operation} "
        f"although the first was refused with {first.line()}, which no retry can change"
        + (
            f"; it did not stop within {REFUSED_CALL_TIMEOUT:g} s"
            if isinstance(error, ConnectorTimeout)
            else ""
        ),
        expected=(
            f"give up after at most {MAX_REFUSED_ATTEMPTS} requests: {', '.join(map(str, NON_RETRYABLE))} "
            "are final"
        ),
        requests=calls,
        attempts=len(calls),
    )
