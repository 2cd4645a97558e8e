"""RES-05: a platform that stops answering mid-request; only a client timeout gets a connector past it."""

from __future__ import annotations

import functools

from harness.checks.context import CheckContext
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.checks.resilience import error_text, judge_written_once
from harness.checks.run import side_by_side
from harness.core import Fault, LoggedRequest, RequestLog

STALL_MS = 30_000  # longer than any sane client read timeout (the reference connectors use 5 s)
# seconds a sync may take: its stall waited out in full, and the sync itself, with room to spare
STALL_CALL_LIMIT = STALL_MS / 1000 + 40


@check("RES-05", pillar="resilience", severity="high", level="standard", timeout=180)
def survives_stalled_responses(ctx: CheckContext) -> None:
    """Gives up on a response that stalls, with a client timeout, retries it and finishes.

    Two syncs run at once, each on its own tenant. On one, the platform holds the answer to the
    second page of a list for 30 s, sending nothing; on the other, it sends the headers and half
    the body of the second page of a list, then nothing for 30 s. A connector whose HTTP client
    has a timeout under 30 s (a read timeout: httpx's `timeout`, requests' `timeout=(connect,
    read)`, urllib's `timeout`, fetch's `AbortSignal.timeout`) closes the connection before the
    stall ends, which the sandbox records, retries the request and finishes with a replica equal
    to the platform's data, each record written once. Without a timeout a connector waits as long
    as the platform keeps the connection open: in production, often forever, and the sync hangs
    with it.
    """
    if not ctx.sandbox.capabilities().supports("stall"):
        raise NotApplicable("this sandbox cannot stall a response (an older build without the stall fault)")
    streams = list(ctx.manifest.streams)
    sizes = {stream: ctx.pages(stream, 1.5) for stream in streams}
    tenants = [ctx.tenant(sizes, purpose=purpose) for purpose in ("stalled", "trickled")]
    # a stream whose ids hold fewer records than asked (`fitted`) may fit one page: no second to stall
    paged = [s for s in streams if s not in (tenants[0].info.get("fitted") or {})] or streams
    ops = [ctx.list_op(paged[i % len(paged)]) for i in range(2)]
    tenants[0].set_faults([Fault.stalled(STALL_MS, ops[0], after=1)])
    tenants[1].set_faults([Fault.trickled(STALL_MS, ops[1], after=1)])
    timeout = max(ctx.call_timeout, STALL_CALL_LIMIT)
    runs = side_by_side(
        *(functools.partial(ctx.sync, t, check_first=False, timeout=timeout) for t in tenants)
    )
    for tenant, run in zip(tenants, runs, strict=True):
        api = run.requests.api()
        held = stalled(api)
        ctx.require(judge_stalls_fired(api, run.error))
        ctx.require(judge_client_timeout(api, STALL_MS / 1000))
        ctx.require(judge_stall_retried(api, run.error))
        ctx.require_converged(
            tenant,
            run.replica,
            after=f"after {len(held)} stalled response(s) abandoned and retried",
            expected="every stalled page is retried and nothing is lost",
            requests=held,
        )
        ctx.require(judge_written_once(run.replica.operations, held))


def stalled(api: RequestLog) -> RequestLog:
    return RequestLog(e for e in api if e.faulted("stall", "trickle"))


def _what(entry: LoggedRequest) -> str:
    if entry.faulted("trickle"):
        return "the headers and half the body sent, then nothing"
    return "nothing sent"


def judge_stalls_fired(api: RequestLog, error: BaseException | None) -> Finding | None:
    """The connector made the requests that let the stalls fire (a second page of a list)."""
    if stalled(api):
        return None
    return Finding.of(
        f"made too few list requests for the injected stalls to fire ({len(api)} API request(s)"
        + (f"; the sync failed: {error_text(error)}" if error else "")
        + ")",
        expected="several pages per stream, the second page of a list stalled",
        requests=api[-5:],
    )


def judge_client_timeout(api: RequestLog, stall: float) -> Finding | None:
    """Each stalled answer was abandoned (the client closed the connection) before the stall ended.
    Judged from the sandbox's own record of the connection, so a loaded machine cannot change it."""
    waited = [e for e in stalled(api) if not e.abandoned]
    if not waited:
        return None
    first = waited[0]
    return Finding.of(
        f"has no client timeout: waited {first.held_ms / 1000:.1f} s for {first.line()} while the "
        f"platform stalled ({_what(first)}) and never gave up; {len(waited)} of {len(stalled(api))} "
        f"stalled response(s) were waited out to the end of the {stall:g} s stall",
        expected=(
            f"a client (read) timeout under {stall:g} s, e.g. httpx.Client(timeout=httpx.Timeout(15.0, "
            f"connect=5.0)) or requests.get(url, timeout=(5, 15)); then retry the request"
        ),
        requests=waited,
        held_s=[round(e.held_ms / 1000, 1) for e in waited],
    )


def judge_stall_retried(api: RequestLog, error: BaseException | None) -> Finding | None:
    """Each abandoned request was sent again, and the sync finished."""
    abandoned = [e for e in stalled(api) if e.abandoned]
    lost = [e for e in abandoned if not any(later.target == e.target for later in api.after(e))]
    if lost:
        first = lost[0]
        return Finding.of(
            f"timed out on {first.line()} after {first.held_ms / 1000:.1f} s ({_what(first)}) but never "
            f"sent it again" + (f"; the sync failed: {error_text(error)}" if error else ""),
            expected="retry a request that timed out, with backoff, then finish the sync",
            requests=lost,
        )
    if error is not None:
        return Finding.of(
            f"gave up instead of finishing: the sync failed after its client timeout abandoned "
            f"{len(abandoned)} stalled response(s): {error_text(error)}",
            expected="retry a request that timed out, with backoff, then finish the sync",
            requests=abandoned or api[-5:],
        )
    return None
