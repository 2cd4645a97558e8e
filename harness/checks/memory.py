"""Memory: the connector streams records page by page instead of holding the account in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.context import CheckContext
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import PeakMemory

MEMORY_RECORDS = 12_000
STILL_GROWING_MIB = 2.5  # while the second half of the pages is read: more is memory that scales
MEMORY_CALL_TIMEOUT = 60.0


@check("PERF-02", pillar="performance", severity="medium", level="strict", timeout=120)
def memory_stays_flat(ctx: CheckContext) -> None:
    """Streams records page by page: peak memory does not grow with the size of the account.

    The connector syncs a tenant with 12,000 records in one stream while the harness watches its
    peak resident memory (the operating system's high-water mark, VmHWM, summed over the
    connector's processes, read through /proc). The check fails when that peak rises by more than
    2.5 MiB while the sandbox serves the second half of the pages: memory that scales with the
    account. A connector that hands each page to the sink and lets it go reaches its working size
    in the first pages (a garbage-collected runtime such as Node's settles some MiB above its
    start-up) and then stays flat; one that collects every page, every record or every line it
    will print, even if it writes them only at the end, keeps growing until the last page, and
    runs out of memory on a customer with millions of records.

    The rise is read within the one sync, never against a separate smaller one: a runtime's
    start-up peak alone varies by several MiB from one process to the next. 12,000 rather than
    100,000 records keeps the check within seconds (the sandbox makes about 20,000 records a
    second) while holding even the second half of them as bare JSON text costs several MiB. A
    Python connector runs in its own worker, whose sink hands each record to the harness and
    keeps none.
    """
    if not Path("/proc/self/status").is_file():
        raise NotApplicable("peak memory is read from /proc/<pid>/status, which this platform does not have")
    stream = ctx.manifest.streams[0]
    run = _memory_run(ctx, stream, MEMORY_RECORDS)
    ctx.require(judge_memory_run(stream, run))
    ctx.require(judge_memory_growth(stream, run))


def judge_memory_run(stream: str, run: MemoryRun) -> Finding | None:
    """The sync completed and wrote every record: otherwise its peak says nothing."""
    if run.problem or run.records < run.wanted:
        return Finding.of(
            f"the sync of {run.wanted:,} {stream} records did not complete: "
            f"{run.problem or f'it wrote {run.records:,} records'}",
            expected=f"sync(None) writes all {run.wanted:,} records and exits normally",
            stderr=run.stderr[-2000:],
        )
    return None


def judge_memory_growth(stream: str, run: MemoryRun) -> Finding | None:
    """The peak rises by at most STILL_GROWING_MIB while the second half of the pages is read."""
    memory, halfway = run.memory, run.halfway()
    still = memory.rise_after(halfway) / 1024
    if still <= STILL_GROWING_MIB:
        return None
    first = memory.at(run.pages[0] if run.pages else memory.samples[0][0]) / 1024
    half, peak = memory.at(halfway) / 1024, memory.peak_kib / 1024
    return Finding.of(
        f"its peak memory rose by {still:.1f} MiB while the sandbox served the second half of "
        f"{run.wanted:,} {stream} records ({first:.1f} MiB after the first page, {half:.1f} MiB at "
        f"half-way, {peak:.1f} MiB at the end): it holds records in memory instead of streaming "
        "them to the sink page by page",
        expected=(
            f"memory flat once the first pages are handled (a rise of at most {STILL_GROWING_MIB:g} MiB "
            "over the second half of the pages): about a page held at a time"
        ),
        peak_mib=round(peak, 1),
        first_page_mib=round(first, 1),
        halfway_mib=round(half, 1),
        second_half_mib=round(still, 1),
        records=run.wanted,
    )


@dataclass
class MemoryRun:
    """One sync's outcome as PERF-02 judges it: records wanted and written, peak memory over
    the sync, when the sandbox answered the stream's pages, how it ended."""

    wanted: int
    memory: PeakMemory = field(default_factory=PeakMemory)
    pages: tuple[float, ...] = ()  # when each page of the stream was answered, in order
    records: int = 0
    problem: str = ""
    stderr: str = ""

    @property
    def peak_kib(self) -> int:
        return self.memory.peak_kib

    def halfway(self) -> float:
        """When half the stream's pages had been served; without pages in the log (records read
        some other way), half-way through the watched sync."""
        if self.pages:
            return self.pages[(len(self.pages) - 1) // 2]
        samples = self.memory.samples
        return (samples[0][0] + samples[-1][0]) / 2 if samples else 0.0


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


def _memory_run(ctx: CheckContext, stream: str, records: int) -> MemoryRun:
    """Run one sync with the driver watching its processes' peak memory; the tenant is deleted after."""
    tenant = ctx.tenant({stream: records}, purpose="memory")
    out = MemoryRun(records)
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
        out.memory = diagnostics.memory
        out.pages = tuple(r.responded for r in tenant.requests().to(ctx.list_op(stream)).status(200))
        out.records = replica.records
        out.stderr = "\n".join(diagnostics.stderr)
        return out
    finally:
        ctx.release(tenant)
