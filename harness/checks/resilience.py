"""Resilience checks: the connector survives the platform misbehaving, without making it worse."""

from __future__ import annotations

from collections import Counter

from harness.checks.context import CheckContext
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorTimeout
from harness.contract.collections import find_feed
from harness.core import Fault, LoggedRequest

RETRY_AFTER = 1  # seconds: what the injected 429s ask for
RATE_LIMITED_BURST = 2  # consecutive 429s on one list request
RETRY_AFTER_TOLERANCE = 0.05  # seconds of clock and rounding slack when judging a wait
EXTRA_REQUESTS = 2  # requests beyond the pages and the 429s that RES-01 tolerates
MIN_BACKOFF = 0.05  # seconds: a retry sooner than this after a failure is no backoff at all
LATENCY_MS = 400  # a slow response, well under any sane client timeout
MAX_REFUSED_ATTEMPTS = 2  # requests to an operation refused with a 4xx that retrying cannot fix
REFUSED_CALL_TIMEOUT = 15.0  # seconds a sync may take to give up on a refused operation


@check("RES-01", pillar="resilience", severity="high", level="standard", timeout=60)
def honours_retry_after(ctx: CheckContext) -> None:
    """Honours 429 Too Many Requests and Retry-After: waits as told, retries, finishes, no storm.

    The platform answers a list request with a burst of 429s carrying `Retry-After: 1`. The
    connector must wait at least that long before its next request (judged from the request
    log: the time of each 429 and of the next API request after it), then carry on and finish
    with a replica equal to the platform's data. The total number of requests must stay bounded:
    the pages it needs, the 429s it was sent, and at most a couple more. Retrying early makes the
    platform throttle harder and can get a customer's account suspended.
    """
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenant = ctx.tenant(sizes, purpose="rate-limited")
    operation = ctx.list_op(streams[0])
    tenant.set_faults([Fault.rate_limited(RETRY_AFTER, operation, after=1, times=RATE_LIMITED_BURST)])
    run = ctx.sync(tenant, check_first=False)
    api = run.requests.api()
    refused = api.status(429)
    if run.error is not None:
        raise ctx.fail(
            (
                f"the sync did not finish after {len(refused)} 429 response(s) with Retry-After: "
                f"{RETRY_AFTER}: {error_text(run.error)}"
                if refused
                else f"the sync failed before any 429 was sent: {error_text(run.error)}"
            ),
            expected=f"wait Retry-After ({RETRY_AFTER} s), retry the same request, finish the sync",
            requests=refused or api[-5:],
        )
    if not refused:
        raise ctx.fail(
            f"made no second request to {operation}, so the injected 429s never fired "
            f"({len(api)} API request(s) in all)",
            expected=f"several pages of {streams[0]} ({sizes[streams[0]]} records)",
            requests=api,
        )
    early = []
    for entry in refused:
        following = api.next_after(entry)
        if following is not None and following.time - entry.time < RETRY_AFTER - RETRY_AFTER_TOLERANCE:
            early.append((entry, following, following.time - entry.time))
    if early:
        entry, following, gap = min(early, key=lambda item: item[2])
        raise ctx.fail(
            f"ignored Retry-After: {len(early)} of {len(refused)} request(s) after a 429 came sooner than "
            f"the {RETRY_AFTER} s it asked for, e.g. {following.line()} {gap:.3f} s after a 429 "
            f"with Retry-After: {RETRY_AFTER}",
            expected=f"after a 429, no request until Retry-After ({RETRY_AFTER} s) has passed",
            requests=[r for pair in early for r in pair[:2]],
            gaps=[round(item[2], 3) for item in early],
        )
    needed = len({e.target for e in api if e.status != 429})
    bound = needed + len(refused) + EXTRA_REQUESTS
    if len(api) > bound:
        repeated = Counter(e.target for e in api)
        key, times = repeated.most_common(1)[0]
        example = " ".join(filter(None, key))
        raise ctx.fail(
            f"made {len(api)} API requests where {needed} distinct requests and {len(refused)} 429(s) "
            f"call for at most {bound}: it repeats requests (e.g. {example} {times} times)",
            expected=f"at most {bound} requests: each page once, plus one retry per 429",
            requests=api,
        )
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after {len(refused)} 429 response(s)",
        expected="the rate-limited page is retried and nothing is lost",
        requests=refused,
    )


@check("RES-02", pillar="resilience", severity="high", level="standard", timeout=90)
def retries_transient_failures(ctx: CheckContext) -> None:
    """Retries 5xx responses, dropped connections, cut-off bodies and slow responses with backoff.

    Spread over the sync, the platform answers list requests with 500, 502 and 503, drops a
    connection halfway through a response, cuts a JSON body in half and delays a response by
    a few hundred milliseconds. The connector must retry each failed request after a backoff
    (never within 50 ms of the failure: instant retries pile onto a platform that is already
    struggling), and finish with a replica equal to the platform's data.
    """
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenant = ctx.tenant(sizes, purpose="transient")
    ops = [ctx.list_op(streams[i % len(streams)]) for i in range(3)]
    tenant.set_faults(
        [
            Fault.error(500, ops[0]),
            Fault.dropped(ops[0], after=2),
            Fault.error(503, ops[1]),
            Fault.truncated(ops[1], after=2),
            Fault.error(502, ops[2]),
            Fault.slow(LATENCY_MS, ops[2], after=1),
        ]
    )
    run = ctx.sync(tenant, check_first=False)
    api = run.requests.api()
    failed = [e for e in api if _failed(e)]
    if run.error is not None:
        last = failed[-1] if failed else None
        raise ctx.fail(
            f"gave up instead of retrying: the sync failed after {len(failed)} transient failure(s)"
            + (f", the last {_what_failed(last)}" if last else "")
            + f": {error_text(run.error)}",
            expected="retry 5xx, dropped connections and cut-off bodies with backoff, then finish",
            requests=failed or api[-5:],
        )
    if not failed:
        raise ctx.fail(
            f"made too few list requests for the injected failures to fire ({len(api)} API request(s))",
            expected=f"several pages per stream ({', '.join(f'{s}: {n}' for s, n in sizes.items())} records)",
            requests=api,
        )
    hasty = []
    for entry in failed:
        retry = next((e for e in api.after(entry) if e.target == entry.target), None)
        if retry is None:
            continue
        gap = retry.time - (entry.time + entry.latency_ms / 1000)
        if gap < MIN_BACKOFF:
            hasty.append((entry, retry, gap))
    if hasty:
        entry, retry, gap = hasty[0]
        raise ctx.fail(
            f"retried without backoff: {len(hasty)} of {len(failed)} failed request(s) were sent again "
            f"within {MIN_BACKOFF * 1000:.0f} ms, e.g. {_what_failed(entry)}, retried "
            f"{max(gap, 0) * 1000:.0f} ms later",
            expected=f"wait before retrying (backoff with jitter, at least {MIN_BACKOFF * 1000:.0f} ms)",
            requests=[r for pair in hasty for r in pair[:2]],
            gaps_ms=[round(max(item[2], 0) * 1000, 1) for item in hasty],
        )
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after {len(failed)} transient failure(s)",
        expected="every failed page is retried and nothing is lost",
        requests=failed,
    )


@check("RES-03", pillar="resilience", severity="high", level="standard", timeout=60)
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
    calls = run.requests.to(operation)
    refused = [e for e in calls if 400 <= e.status < 500 and e.status not in (401, 429)]
    if not refused:
        raise ctx.fail(
            f"never requested {operation} without the {scope} scope, so there was nothing to refuse "
            f"({len(calls)} request(s) to it; the sync "
            f"{'failed: ' + error_text(run.error) if run.error else 'passed'})",
            expected=f"the sync reads {stream} and is refused with 403",
            requests=run.requests[-5:],
        )
    first = refused[0]
    statuses = ", ".join(f"{s} x{n}" for s, n in sorted(Counter(e.status for e in calls).items()))
    if len(calls) > MAX_REFUSED_ATTEMPTS:
        spent = calls[-1].time - calls[0].time
        raise ctx.fail(
            f"retried a non-retryable error: sent {len(calls)} requests to {operation} ({statuses}) over "
            f"{spent:.1f} s although the first was refused with {first.line()} insufficient_scope"
            + (f"; it did not stop within {timeout:g} s" if isinstance(run.error, ConnectorTimeout) else ""),
            expected=f"give up after at most {MAX_REFUSED_ATTEMPTS} requests: a 4xx (but 401, 429) is final",
            requests=calls,
            attempts=len(calls),
        )
    if isinstance(run.error, ConnectorTimeout):
        raise ctx.fail(
            f"hung after {first.line()}: sync did not return within {timeout:g} s",
            expected="sync fails promptly with an error naming the refused request",
            requests=refused,
        )
    if run.error is None:
        raise ctx.fail(
            f"sync reported success although {first.line()} (insufficient_scope) means {stream} was "
            f"not synced; a customer would never learn that data is missing",
            expected="sync fails with an error (an exception, or a non-zero exit status) naming the refusal",
            requests=refused,
        )
    text = error_text(run.error, full=True).lower()
    path = first.path.lower()
    if not any(word in text for word in (str(first.status), "forbidden", "scope", "permission", path)):
        raise ctx.fail(
            f"failed without saying why: its error mentions neither the status ({first.status}), the "
            f"path ({first.path}) nor the missing scope: {error_text(run.error)}",
            expected=f"an error that names the refusal, e.g. 'GET {first.path} failed with HTTP 403'",
            requests=refused,
        )


# -- shared ----------------------------------------------------------------------------------------


def _failed(entry: LoggedRequest) -> bool:
    """A request that failed in a way worth retrying: 5xx, a dropped connection or a cut-off body."""
    return entry.status >= 500 or entry.faulted("drop", "truncate")


def _what_failed(entry: LoggedRequest) -> str:
    if entry.faulted("drop"):
        return f"{entry.line()} (connection dropped mid-response)"
    if entry.faulted("truncate"):
        return f"{entry.line()} (body cut off)"
    return entry.line()


def error_text(error: BaseException | None, *, full: bool = False) -> str:
    """The connector's error, with the last line of its traceback or stderr when that says more."""
    if error is None:
        return ""
    text = str(error)
    detail = getattr(error, "traceback_text", "") or ""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    if full:
        return f"{text}\n{detail}"
    if lines and lines[-1] not in text:
        text = f"{text} ({lines[-1][:300]})"
    return text


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
