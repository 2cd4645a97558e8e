"""INT-04: a connector that crashes mid-sync resumes from its last checkpoint, losing nothing."""

from __future__ import annotations

import json
from typing import Any

from harness.checks.context import CheckContext, RunError, StreamDiff
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.checks.scenario import Scenario
from harness.checks.sync_judgements import describe_diffs, sync_completed
from harness.connectors.replica import Operation
from harness.core import RequestLog

CRASH_SHARE = 0.45  # of all records: past the first stream (of several) ...
CRASH_OFFSET = 7  # ... and mid-page


@check("INT-04", pillar="integrity", severity="high", level="standard", timeout=120)
def resume_after_crash_converges(ctx: CheckContext) -> None:
    """After a crash mid-sync, resuming from the last checkpoint loses nothing and does not start over.

    The connector's process dies part-way through a full sync, in the middle of storing a page
    (the sink fails, as a killed process or a full disk would). It is then run again with
    `sync(state)` from the last state it checkpointed, into the same replica. The replica must
    equal the platform, so a checkpoint may only name a position once the records before it are
    stored; and the resumed run must carry on from that position, re-reading at most the page
    it was in, not every page from the start.
    """
    sizes = Scenario.sizes(ctx, 2.5)
    scenario = Scenario(ctx, ctx.tenant(sizes))
    total = sum(sizes.values())
    replica = scenario.crash_at(int(total * CRASH_SHARE) + CRASH_OFFSET)
    crash = scenario.full_sync()
    ctx.require(judge_crashed(replica.crashed, len(replica.operations), total, crash.error))
    state, crashed_at = replica.state, len(replica.operations)
    resumed = scenario.incremental(f"the run resuming from the last checkpoint {json.dumps(state)[:200]}")
    ctx.require(sync_completed(resumed, "sync(last checkpoint) returns normally"))
    lists = resumed.requests.to(*ctx.list_ops())
    ctx.require(judge_resume_converged(scenario.diff(), crashed_at, state, lists))
    page = max(ctx.page_size(s) for s in ctx.manifest.streams)
    ctx.require(judge_resume_restarted(replica.operations, crashed_at, page, state, lists))


def judge_crashed(crashed: bool, stored: int, total: int, error: RunError | None) -> Finding | None:
    """The crash fires partway through the records: a sync that ended before it stored too few."""
    if crashed:
        return None
    return Finding.of(
        f"the full sync stored only {stored} of {total} records and returned "
        f"{'an error: ' + str(error) if error else 'normally'}, before the simulated crash",
        expected="a full sync stores every record",
    )


def judge_resume_converged(
    diffs: list[StreamDiff], crashed_at: int, state: Any, lists: RequestLog
) -> Finding | None:
    """What the crash and resume lost together was checkpointed before it was stored; records
    that are all there but hold other values than the platform's are told as only that."""
    if not diffs:
        return None
    lost = any(d.lost for d in diffs)
    why = (
        " — stored neither before the crash nor after it: the checkpoint named a position past "
        "records it had not stored yet"
        if lost
        else ""
    )
    return Finding.of(
        f"after a crash at record {crashed_at + 1} and a resume from the last checkpoint "
        f"({json.dumps(state)[:200]}): " + describe_diffs(diffs) + why,
        expected="a checkpoint names a position only once every record before it is stored"
        if lost
        else "every record stored as the platform has it",
        requests=lists[:2],
    )


def judge_resume_restarted(
    operations: list[Operation], crashed_at: int, page: int, state: Any, lists: RequestLog
) -> Finding | None:
    """A resume re-stores at most the page it crashed in; starting over re-stores everything
    stored before the crash. (A command connector may have read ahead of what the harness stored,
    so the replica's operations, not the requests, say what was re-read.)"""
    before = {(op.stream, op.id) for op in operations[:crashed_at] if op.kind == "upsert"}
    again = {
        (op.stream, op.id)
        for op in operations[crashed_at:]
        if op.kind == "upsert" and (op.stream, op.id) in before
    }
    if len(again) <= page:
        return None
    why = (
        "it checkpointed nothing before the crash, so the resume was a full sync"
        if state is None
        else f"its last checkpoint was {json.dumps(state)[:200]}"
    )
    stream, record_id = next(iter(sorted(again, key=str)))
    return Finding.of(
        f"the resumed run started over: it stored again {len(again)} of the {len(before)} records "
        f"it had stored before the crash (e.g. {stream} {record_id}), with {len(lists)} list "
        f"requests starting at {lists[0].line() if lists else 'none'}; {why}",
        expected="checkpoint after each page and resume from there, re-reading at most the page "
        "it was in when it crashed",
        requests=lists,
    )
