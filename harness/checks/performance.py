"""Performance checks: the connector uses its rate budget well and streams instead of hoarding."""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.context import CheckContext
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import LoggedRequest, RequestLog

RATE, BURST = 20.0, 20  # the tenant's rate limit: requests per second, and the bucket's size
BUDGET_PAGES = 30  # list pages at the contract's largest page size (more at any smaller one)
BUDGET_WINDOW = 8.0  # seconds the sync gets; pacing through its budget takes about 2 s
MIN_UTILIZATION = 0.70
MAX_RATE_LIMITED_SHARE = 0.05


@check("PERF-01", pillar="performance", severity="medium", level="standard", timeout=60)
def uses_rate_budget(ctx: CheckContext) -> None:
    """Uses its rate budget (at least 70%) without hammering the limit (under 5% of requests 429).

    The tenant is rate limited to 20 requests per second per client, with a burst of 20 (a token
    bucket), and holds about 30 pages at the contract's largest page size, so the sync cannot
    finish inside the burst: it has to pace itself through its budget. It gets 8 s, about four
    times what that takes.

    How it is measured, from the request log: the platform's token bucket is replayed over the
    connector's API requests (the token endpoint has its own budget). Tokens that overflow the
    full bucket while the connector is active (from its first API request until it finishes, or
    until the 8 s run out) are budget it wasted. Utilization = requests accepted / (requests
    accepted + tokens wasted); it must be at least 70%. Tokens still unused when the sync
    finishes do not count against it: a sync that is done needs no more. Separately, fewer than
    5% of its API requests may be answered 429: a connector that paces itself (reads the
    RateLimit headers, spaces its requests) rarely sees one, and one that hammers the limit
    makes the platform throttle every client of the account.
    """
    streams = list(ctx.manifest.streams)
    pages = math.ceil(BUDGET_PAGES / len(streams))
    sizes = {stream: ctx.page_size(stream) * pages for stream in streams}
    tenant = ctx.tenant(sizes, purpose="rate-budget", rate_limit=(RATE, BURST))
    connector = ctx.connector(tenant, timeout=BUDGET_WINDOW)
    error: ConnectorFailed | ConnectorTimeout | None = None
    try:
        connector.sync(None)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    ended = time.time()  # a call that ran out of time was ended with its whole process tree
    connector.close()
    api = tenant.requests().api().until(ended)
    if isinstance(error, ConnectorFailed):
        raise ctx.fail(
            f"the sync failed under a rate limit of {RATE:g} requests/s (burst {BURST}): {error}",
            expected="a sync that paces itself through its rate budget and finishes",
            requests=api.failed()[-5:],
        )
    if not api:
        raise ctx.fail(
            "the sync made no API request at all", expected=f"list requests for {', '.join(streams)}"
        )
    finished = error is None
    budget = _replay_bucket(api, ended if not finished else None)
    limited = api.status(429)
    share = len(limited) / len(api)
    problems = []
    if budget.utilization < MIN_UTILIZATION:
        gaps = [b.time - a.time for a, b in zip(budget.accepted, budget.accepted[1:], strict=False)]
        pause = statistics.median(gaps) if gaps else 0.0
        problems.append(
            f"used only {len(budget.accepted)} of the {budget.available:.0f} requests its rate budget "
            f"allowed over {budget.active:.1f} s ({budget.utilization:.0%}; the limit is {RATE:g}/s, "
            f"burst {BURST}): "
            f"the median pause between its requests was {pause:.2f} s where the budget allows one every "
            f"{1 / RATE:.2f} s"
            + ("" if finished else f", and the sync was still running when its {BUDGET_WINDOW:g} s were up")
        )
    if share >= MAX_RATE_LIMITED_SHARE:
        first = limited[0]
        following = api.next_after(first)
        after = ""
        if following is not None:
            gap = following.time - first.time
            after = f"; e.g. {first.line()}, then {following.line()} {gap:.3f} s later"
        problems.append(
            f"{len(limited)} of its {len(api)} API requests ({share:.0%}) were answered 429: it sends faster "
            f"than its rate limit allows instead of pacing itself{after}"
        )
    if problems:
        raise ctx.fail(
            "; ".join(problems),
            expected=(
                f"at least {MIN_UTILIZATION:.0%} of the rate budget used while syncing, and under "
                f"{MAX_RATE_LIMITED_SHARE:.0%} of requests answered 429"
            ),
            requests=limited or api,
            utilization=round(budget.utilization, 3),
            rate_limited_share=round(share, 3),
            requests_accepted=len(budget.accepted),
            tokens_wasted=round(budget.wasted, 1),
            active_seconds=round(budget.active, 3),
            finished=finished,
        )


@dataclass
class _Budget:
    accepted: list[LoggedRequest] = field(default_factory=list)
    wasted: float = 0.0  # tokens that overflowed a full bucket while the connector was active
    active: float = 0.0  # seconds from its first API request to its last (or to the window's end)

    @property
    def available(self) -> float:
        return len(self.accepted) + self.wasted

    @property
    def utilization(self) -> float:
        return len(self.accepted) / self.available if self.available else 1.0


def _replay_bucket(api: RequestLog, until: float | None) -> _Budget:
    """Replay the platform's token bucket over the requests (sandbox arrival times)."""
    out = _Budget()
    tokens, last = float(BURST), api[0].time
    for entry in api:
        tokens = _refill(out, tokens, entry.time - last)
        last = entry.time
        if entry.status != 429:
            out.accepted.append(entry)
            tokens = max(tokens - 1, 0.0)
    if until is not None:
        _refill(out, tokens, until - last)
        last = until
    out.active = last - api[0].time
    return out


def _refill(budget: _Budget, tokens: float, seconds: float) -> float:
    tokens += max(seconds, 0.0) * RATE
    if tokens > BURST:
        budget.wasted += tokens - BURST
        tokens = float(BURST)
    return tokens


# -- PERF-02 --------------------------------------------------------------------------------------

MEMORY_RECORDS = 12_000
BASELINE_RECORDS = 100  # about one page: what the connector needs to hold at a time
GROWTH_LIMIT_MIB = 8.0
MEMORY_CALL_TIMEOUT = 60.0
POLL_SECONDS = 0.025


@check("PERF-02", pillar="performance", severity="medium", level="strict", timeout=120)
def memory_stays_flat(ctx: CheckContext) -> None:
    """Streams records page by page: peak memory does not grow with the size of the account.

    The connector syncs a tenant with 12,000 records in one stream, and, for comparison, one with
    about a page of records. Its peak resident memory (the operating system's high-water mark,
    VmHWM, summed over the connector's processes) may grow by at most 8 MiB between the two. A
    connector that hands each page to the sink and lets it go needs about the same memory for
    both; one that collects every page (or every record) before writing grows with the account,
    here by tens of MiB, and runs out of memory on a customer with millions of records.

    12,000 rather than 100,000 records keeps the check within seconds (the sandbox makes about
    20,000 records a second, and the 60 s budget covers the whole catalogue) while holding them
    all still costs a Python connector several times the bound. Every connector runs in
    processes of its own (a Python connector in its worker, whose sink hands each record to the
    harness and keeps none), watched through /proc while the sync runs.
    """
    if not Path("/proc/self/status").is_file():
        raise NotApplicable("peak memory is read from /proc/<pid>/status, which this platform does not have")
    stream = ctx.manifest.streams[0]
    small = _memory_run(ctx, {stream: BASELINE_RECORDS}, "memory-baseline")
    large = _memory_run(ctx, {stream: MEMORY_RECORDS}, "memory")
    for run, n in ((small, BASELINE_RECORDS), (large, MEMORY_RECORDS)):
        if run.problem or run.records < n:
            raise ctx.fail(
                f"the sync of {n:,} {stream} records did not complete: "
                f"{run.problem or f'it wrote {run.records:,} records'}",
                expected=f"sync(None) writes all {n:,} records and exits normally",
                stderr=run.stderr[-2000:],
            )
    growth = (large.peak_kib - small.peak_kib) / 1024
    if growth > GROWTH_LIMIT_MIB:
        raise ctx.fail(
            f"its peak memory grew by {growth:.1f} MiB while syncing {MEMORY_RECORDS:,} {stream} records "
            f"(peak {large.peak_kib / 1024:.1f} MiB, against {small.peak_kib / 1024:.1f} MiB for "
            f"{BASELINE_RECORDS} records): it holds records in memory instead of streaming them to the "
            f"sink page by page",
            expected=f"peak memory growth under {GROWTH_LIMIT_MIB:g} MiB: about a page held at a time",
            peak_mib=round(large.peak_kib / 1024, 1),
            baseline_mib=round(small.peak_kib / 1024, 1),
            records=MEMORY_RECORDS,
        )


@dataclass
class _MemoryRun:
    peak_kib: int = 0
    records: int = 0
    problem: str = ""
    stderr: str = ""


class _CountingSink:
    """A sink that counts the records it is given and keeps none of them."""

    def __init__(self) -> None:
        self.records = 0
        self.logs: list[dict[str, Any]] = []

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        self.records += 1

    def delete(self, stream: str, record_id: Any) -> None:
        pass

    def checkpoint(self, state: Any) -> None:
        pass

    def log(self, level: str, message: str, **fields: Any) -> None:
        self.logs.append({})


def _memory_run(ctx: CheckContext, sizes: dict[str, int], purpose: str) -> _MemoryRun:
    """Run one sync with the driver sampling its processes' peak memory; the tenant is deleted after."""
    tenant = ctx.tenant(sizes, purpose=purpose)
    out = _MemoryRun()
    try:
        replica = _CountingSink()  # the replica would hold every record by design
        connector = ctx.connector(tenant, replica, timeout=MEMORY_CALL_TIMEOUT)
        connector.sample_memory = True
        try:
            connector.sync(None)
        except ConnectorTimeout:
            out.problem = f"it did not finish within {MEMORY_CALL_TIMEOUT:g} s"
        except ConnectorFailed as exc:
            out.problem = str(exc)
        finally:
            diagnostics = connector.diagnostics()
            connector.close()
        out.peak_kib = diagnostics.peak_kib
        out.records = replica.records
        out.stderr = "\n".join(diagnostics.stderr)
        return out
    finally:
        with contextlib.suppress(Exception):
            tenant.delete()
        ctx.tenants.remove(tenant)
