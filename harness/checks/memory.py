"""Memory: the connector streams records page by page instead of holding the account in memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks.context import CheckContext
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout

MEMORY_RECORDS = 12_000
MIDPOINT_RECORDS = 6_000  # half-way: a connector that holds records is still growing past it
BASELINE_RECORDS = 100  # about one page: what the connector needs to hold at a time
GROWTH_LIMIT_MIB = 8.0
STILL_GROWING_MIB = 4.0  # from MIDPOINT_RECORDS to MEMORY_RECORDS: more is memory that scales
MEMORY_CALL_TIMEOUT = 60.0


@check("PERF-02", pillar="performance", severity="medium", level="strict", timeout=120)
def memory_stays_flat(ctx: CheckContext) -> None:
    """Streams records page by page: peak memory does not grow with the size of the account.

    The connector syncs a tenant with 12,000 records in one stream and, for comparison, one with
    about a page of records and one with 6,000. Its peak resident memory (the operating system's
    high-water mark, VmHWM, summed over the connector's processes) fails the check when it grows
    by more than 8 MiB from the page to the 12,000 records *and* is still growing, by more than
    4 MiB, from 6,000 to 12,000: memory that scales with the account. A connector that hands each
    page to the sink and lets it go levels off (a garbage-collected runtime such as Node's may
    settle some MiB higher once it is busy, and then stays there); one that collects every page
    (or every record) before writing grows with the account, here by tens of MiB, and runs out of
    memory on a customer with millions of records.

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
    mid = _memory_run(ctx, {stream: MIDPOINT_RECORDS}, "memory-midpoint")
    large = _memory_run(ctx, {stream: MEMORY_RECORDS}, "memory")
    ctx.require(judge_memory_runs(stream, small, mid, large))
    ctx.require(judge_memory_growth(stream, small, mid, large))


def judge_memory_runs(stream: str, *runs: MemoryRun) -> Finding | None:
    """Every sync completed and wrote every record: otherwise their peaks compare nothing."""
    for run in runs:
        if run.problem or run.records < run.wanted:
            return Finding.of(
                f"the sync of {run.wanted:,} {stream} records did not complete: "
                f"{run.problem or f'it wrote {run.records:,} records'}",
                expected=f"sync(None) writes all {run.wanted:,} records and exits normally",
                stderr=run.stderr[-2000:],
            )
    return None


def judge_memory_growth(stream: str, small: MemoryRun, mid: MemoryRun, large: MemoryRun) -> Finding | None:
    """Peak memory grows by at most GROWTH_LIMIT_MIB from about a page of records to many pages,
    or levels off: a runtime whose heap settles higher once busy still streams if the second
    half of the records adds at most STILL_GROWING_MIB."""
    growth = (large.peak_kib - small.peak_kib) / 1024
    still = (large.peak_kib - mid.peak_kib) / 1024
    if growth <= GROWTH_LIMIT_MIB or still <= STILL_GROWING_MIB:
        return None
    return Finding.of(
        f"its peak memory grew by {growth:.1f} MiB while syncing {large.wanted:,} {stream} records "
        f"(peak {large.peak_kib / 1024:.1f} MiB, against {small.peak_kib / 1024:.1f} MiB for "
        f"{small.wanted:,} records), {still:.1f} MiB of it after the first {mid.wanted:,}: it holds "
        f"records in memory instead of streaming them to the sink page by page",
        expected=(
            f"peak memory growth under {GROWTH_LIMIT_MIB:g} MiB, or levelling off (under "
            f"{STILL_GROWING_MIB:g} MiB from {mid.wanted:,} to {large.wanted:,} records): about a "
            "page held at a time"
        ),
        peak_mib=round(large.peak_kib / 1024, 1),
        baseline_mib=round(small.peak_kib / 1024, 1),
        records=large.wanted,
    )


@dataclass
class MemoryRun:
    """One sync's outcome as PERF-02 judges it: records wanted and written, peak memory, how it ended."""

    wanted: int
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


def _memory_run(ctx: CheckContext, sizes: dict[str, int], purpose: str) -> MemoryRun:
    """Run one sync with the driver sampling its processes' peak memory; the tenant is deleted after."""
    tenant = ctx.tenant(sizes, purpose=purpose)
    out = MemoryRun(sum(sizes.values()))
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
        ctx.release(tenant)
