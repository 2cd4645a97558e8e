"""Resilience checks: the connector survives the platform misbehaving, without making it worse."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from harness.checks.context import CheckContext
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.connectors.replica import Operation
from harness.core import Fault, LoggedRequest, RequestLog

RETRY_AFTER = 1  # seconds: what the injected 429s ask for
RATE_LIMITED_BURST = 2  # consecutive 429s on one list request
RETRY_AFTER_TOLERANCE = 0.05  # seconds of clock and rounding slack when judging a wait
EXTRA_REQUESTS = 2  # requests beyond the pages and the 429s that RES-01 tolerates
MIN_BACKOFF = 0.05  # seconds: a retry sooner than this after a failure is an immediate retry
FAILURES_IN_A_ROW = 2  # a 500 and a 502 fire twice in a row, so a second retry is judged
LATENCY_MS = 400  # a slow response, well under any sane client timeout


@check("RES-01", pillar="resilience", severity="high", level="standard", timeout=60)
def honours_retry_after(ctx: CheckContext) -> None:
    """Honours 429 Too Many Requests and Retry-After: waits as told, retries, finishes, no storm.

    The platform answers a list request with a burst of 429s carrying `Retry-After: 1`. The
    connector must not send that operation again until Retry-After has passed, counted from when
    the 429 was answered (judged from the sandbox's request log). Requests that other streams
    have in flight meanwhile are not retries of the 429 and are not counted: concurrency is fine,
    and so is a request sent before the 429 existed. The connector must then finish with a replica
    equal to the platform's data, and the number of requests stays bounded: the pages it needs,
    the 429s it was sent, and at most a couple more. Retrying early makes the platform throttle
    harder and can get a customer's account suspended.
    """
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenant = ctx.tenant(sizes, purpose="rate-limited")
    operation = ctx.list_op(streams[0])
    tenant.set_faults([Fault.rate_limited(RETRY_AFTER, operation, after=1, times=RATE_LIMITED_BURST)])
    run = ctx.sync(tenant, check_first=False)
    api = run.requests.api()
    wanted = f"{sizes[streams[0]]} {streams[0]} records"
    ctx.require(judge_rate_limited_run(api, run.error, operation, wanted))
    ctx.require(judge_retry_after(api, RETRY_AFTER))
    ctx.require(judge_request_count(api))
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after {len(api.status(429))} 429 response(s)",
        expected="the rate-limited page is retried and nothing is lost",
        requests=api.status(429),
    )
    ctx.require(judge_written_once(run.replica.operations, api.status(429)))


def judge_rate_limited_run(
    api: RequestLog, error: BaseException | None, operation: str, wanted: str
) -> Finding | None:
    """The sync finished, and it made the requests that let the injected 429s fire."""
    refused = api.status(429)
    if error is not None:
        return Finding.of(
            f"the sync did not finish after {len(refused)} 429 response(s) with Retry-After: "
            f"{RETRY_AFTER}: {error_text(error)}"
            if refused
            else f"the sync failed before any 429 was sent: {error_text(error)}",
            expected=f"wait Retry-After ({RETRY_AFTER} s), retry the same request, finish the sync",
            requests=refused or api[-5:],
        )
    if not refused:
        return Finding.of(
            f"made no second request to {operation}, so the injected 429s never fired "
            f"({len(api)} API request(s) in all)",
            expected=f"several pages of {wanted}",
            requests=api,
        )
    return None


def judge_retry_after(api: RequestLog, retry_after: float) -> Finding | None:
    """No request to a throttled operation was sent after its 429 was answered and before
    Retry-After had passed. Other operations (streams in flight) and requests already on their
    way when the 429 was answered are not retries of it."""
    refused = api.status(429)
    early = []
    for entry in refused:
        deadline = entry.responded + retry_after - RETRY_AFTER_TOLERANCE
        following = next(
            (e for e in api.after(entry) if e.operation == entry.operation and e.time >= entry.responded),
            None,
        )
        if following is not None and following.time < deadline:
            early.append((entry, following, following.time - entry.responded))
    if not early:
        return None
    entry, following, gap = min(early, key=lambda item: item[2])
    return Finding.of(
        f"ignored Retry-After: {len(early)} of {len(refused)} 429(s) were followed by a request to the same "
        f"operation sooner than the {retry_after:g} s they asked for, e.g. {following.line()} "
        f"{gap:.3f} s after a 429 with Retry-After: {retry_after:g} was answered",
        expected=f"after a 429, no request to that operation until Retry-After ({retry_after:g} s) passed",
        requests=[r for pair in early for r in pair[:2]],
        gaps=[round(item[2], 3) for item in early],
    )


def judge_request_count(api: RequestLog) -> Finding | None:
    """No storm: each page once, one retry per 429, and at most EXTRA_REQUESTS more."""
    refused = api.status(429)
    needed = len({_repeats(e) for e in api if e.status != 429})
    bound = needed + len(refused) + EXTRA_REQUESTS
    if len(api) <= bound:
        return None
    (key, _path), times = Counter(_repeats(e) for e in api).most_common(1)[0]
    example = " ".join(filter(None, key))
    return Finding.of(
        f"made {len(api)} API requests where {needed} distinct requests and {len(refused)} 429(s) "
        f"call for at most {bound}: it repeats requests (e.g. {example} {times} times)",
        expected=f"at most {bound} requests: each page once, plus one retry per 429",
        requests=api,
    )


def _repeats(entry: LoggedRequest) -> tuple[tuple[str, str], str]:
    """What a repeat of a request repeats: its target and its path (one list operation under two
    parents, `/repos/a/b/issues` and `/repos/c/d/issues`, is two requests)."""
    return entry.target, entry.path


@check("RES-02", pillar="resilience", severity="high", level="standard", timeout=90)
def retries_transient_failures(ctx: CheckContext) -> None:
    """Retries 5xx responses, dropped connections, cut-off bodies and slow responses with backoff.

    Spread over the sync, the platform answers list requests with 500, 502 and 503 (twice in a
    row, for two of them), drops a connection halfway through a response, cuts a JSON body in half
    and delays a response by a few hundred milliseconds. The connector must retry each failed
    request and finish with a replica equal to the platform's data. One immediate retry of a
    failure is fine (urllib3's Retry, for one, makes its first retry at once: most blips are over
    by then); if that retry fails too, every further retry of the request must wait at least 50 ms
    after the failure it answers. Retries in a row without a pause pile onto a platform that is
    already struggling.
    """
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenant = ctx.tenant(sizes, purpose="transient")
    ops = [ctx.list_op(streams[i % len(streams)]) for i in range(3)]
    tenant.set_faults(
        [
            Fault.error(500, ops[0], times=FAILURES_IN_A_ROW),
            Fault.dropped(ops[0], after=1 + FAILURES_IN_A_ROW),
            Fault.error(503, ops[1]),
            Fault.truncated(ops[1], after=2),
            Fault.error(502, ops[2], times=FAILURES_IN_A_ROW),
            Fault.slow(LATENCY_MS, ops[2], after=FAILURES_IN_A_ROW),
        ]
    )
    run = ctx.sync(tenant, check_first=False)
    api = run.requests.api()
    ctx.require(judge_transient_run(api, run.error, sizes))
    ctx.require(judge_backoff(api))
    failed = [e for e in api if _failed(e)]
    ctx.require_converged(
        tenant,
        run.replica,
        after=f"after {len(failed)} transient failure(s)",
        expected="every failed page is retried and nothing is lost",
        requests=failed,
    )
    ctx.require(judge_written_once(run.replica.operations, failed))


def judge_transient_run(
    api: RequestLog, error: BaseException | None, sizes: dict[str, int]
) -> Finding | None:
    """The sync finished after the failures, and made enough requests for them to fire."""
    failed = [e for e in api if _failed(e)]
    if error is not None:
        last = failed[-1] if failed else None
        return Finding.of(
            f"gave up instead of retrying: the sync failed after {len(failed)} transient failure(s)"
            + (f", the last {_what_failed(last)}" if last else "")
            + f": {error_text(error)}",
            expected="retry 5xx, dropped connections and cut-off bodies with backoff, then finish",
            requests=failed or api[-5:],
        )
    if not failed:
        return Finding.of(
            f"made too few list requests for the injected failures to fire ({len(api)} API request(s))",
            expected=f"several pages per stream ({', '.join(f'{s}: {n}' for s, n in sizes.items())} records)",
            requests=api,
        )
    return None


def judge_backoff(api: RequestLog) -> Finding | None:
    """At most one immediate retry per failed request: a retry sent within MIN_BACKOFF of a
    failure that was itself an immediate retry of a failure is no backoff."""
    failed = [e for e in api if _failed(e)]
    immediate: set[int] = set()  # seqs of requests that were immediate retries of a failure
    hasty = []
    for entry in failed:
        retry = next((e for e in api.after(entry) if _repeats(e) == _repeats(entry)), None)
        if retry is None:
            continue
        gap = retry.time - entry.responded
        if gap >= MIN_BACKOFF:
            continue
        if entry.seq in immediate:
            hasty.append((entry, retry, gap))
        immediate.add(retry.seq)
    if not hasty:
        return None
    entry, retry, gap = hasty[0]
    return Finding.of(
        f"retried without backoff: {len(hasty)} of {len(failed)} failed request(s) were themselves an "
        f"immediate retry and were sent again within {MIN_BACKOFF * 1000:.0f} ms, "
        f"e.g. {_what_failed(entry)}, retried {max(gap, 0) * 1000:.0f} ms later",
        expected=(
            f"at most one immediate retry, then wait before retrying again (backoff with jitter, at least "
            f"{MIN_BACKOFF * 1000:.0f} ms)"
        ),
        requests=[r for pair in hasty for r in pair[:2]],
        gaps_ms=[round(max(item[2], 0) * 1000, 1) for item in hasty],
    )


# -- shared ----------------------------------------------------------------------------------------


def judge_written_once(operations: Sequence[Operation], failed: Iterable[LoggedRequest]) -> Finding | None:
    """Exactly once, judged on every write the replica received, not only its final rows: in a
    sync of a platform that does not change meanwhile, each record reaches the sink once (one
    upsert, or one delete, per stream and id). The sink stands for the connector's destination,
    which may append (a warehouse load, a change stream): a page stored again after a retry is a
    duplicate there even though a keyed replica ends up the same."""
    counts = Counter((op.kind, op.stream, op.id) for op in operations)
    doubled = {key: n for key, n in counts.items() if n > 1}
    if not doubled:
        return None
    (kind, stream, record_id), times = next(iter(doubled.items()))
    streams = sorted({key[1] for key in doubled})
    return Finding.of(
        f"wrote records to the sink more than once: {len(doubled)} record(s) of {', '.join(streams)} "
        f"were written again after a retry (e.g. {stream} {record_id}: {kind} {times} times); the final "
        f"replica looks right, but an append-only destination or a downstream consumer gets every copy",
        expected="each record written once per sync: a retry sends a request again, not its page",
        requests=list(failed),
        written_twice=len(doubled),
        writes=len(operations),
    )


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
