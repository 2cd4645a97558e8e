"""Resilience against refusals: a 4xx that no retry can fix ends the sync, with a clear error."""

from __future__ import annotations

from collections import Counter

from harness.checks.context import CheckContext
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.checks.resilience import error_text
from harness.connectors import ConnectorTimeout
from harness.contract.collections import find_feed
from harness.core import RequestLog

MAX_REFUSED_ATTEMPTS = 2  # requests to an operation refused with a 4xx that retrying cannot fix
REFUSED_CALL_TIMEOUT = 15.0  # seconds a sync may take to give up on a refused operation


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
