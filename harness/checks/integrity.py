"""Integrity checks: what the connector stores is exactly what the platform holds.

INT-01 (full sync), INT-02 (incremental sync) and INT-03 (churn while paging) are here; INT-04
(resume after a crash) is in resume.py, INT-05 (interleaved changes) in stateful.py, INT-06
(retried push) in push.py.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from harness.checks.context import CheckContext, RunError, StreamDiff
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.checks.scenario import Edits, Scenario, SyncStep, apply_harness_changes
from harness.checks.sync_judgements import (
    checkpointed,
    describe_diffs,
    full_sync_problems,
    stream_lists,
    sync_completed,
    unseen_deletions,
)
from harness.connectors import Replica
from harness.contract.offers import gap
from harness.core import RequestLog, last_kinds
from harness.runtime import TenantHandle

PAGES = 3.5  # enough records for several pages at the contract's largest page size
CHURN_PER_PAGE = 10  # changes the platform makes after each of the first pages
_apply_harness_changes = apply_harness_changes  # its old name (tests import it)
__all__ = ["changed_ids", "describe_diffs", "full_sync", "require_full_sync", "run_sync"]


# -- steps other integrity checks share ---------------------------------------------------------


def changed_ids(tenant: TenantHandle, since: int = 0) -> dict[str, dict[Any, str]]:
    """stream -> id -> the last kind of change it had (created, updated, deleted) after `since`."""
    return last_kinds(tenant.changes(since))


def run_sync(ctx: CheckContext, tenant: TenantHandle, replica: Replica, state: Any) -> RunError | None:
    """One sync(state) into `replica` with a fresh connector instance; its error, if it failed."""
    return ctx.sync(tenant, state, check_first=False, replica=replica).error


def full_sync(ctx: CheckContext, tenant: TenantHandle, replica: Replica, what: str = "the full sync") -> None:
    """sync(None) into `replica`; fail unless it completed and checkpointed."""
    require_full_sync(ctx, Scenario(ctx, tenant, replica), what)


def sees_deletions(ctx: CheckContext) -> bool:
    """Whether a sync can see deletions: only through a change feed (an updated-since filter
    lists only records that still exist)."""
    return gap(ctx.contract, "deletions") is None


def judged(
    ctx: CheckContext, diffs: list[StreamDiff], changed: dict[str, dict[Any, str]]
) -> list[StreamDiff]:
    """The differences a check may blame: all of them where the contract offers a change feed,
    else all but the records deleted on the platform that the replica still holds."""
    return diffs if sees_deletions(ctx) else unseen_deletions(diffs, changed)


def require_full_sync(ctx: CheckContext, scenario: Scenario, what: str = "the full sync") -> SyncStep:
    step = scenario.full_sync(what)
    ctx.require(sync_completed(step, "sync(None) returns normally"))
    ctx.require(checkpointed(what, scenario.replica.state))
    return step


# -- INT-01 -------------------------------------------------------------------------------------


@check("INT-01", pillar="integrity", severity="critical", timeout=180, requires=("collections",))
def full_sync_equals_ground_truth(ctx: CheckContext) -> None:
    """A full sync brings in every record exactly once, across many pages, with every field intact.

    The tenant holds several pages of each stream. After `sync(None)` the replica must equal the
    platform's data: no record lost (stopping before the last page, skipping a page), none
    written twice (re-reading a page), and field values unchanged.
    """
    sizes = Scenario.sizes(ctx, PAGES)
    scenario = Scenario(ctx, ctx.tenant(sizes))
    truth = ctx.truth(scenario.tenant)  # read before the connector runs: it cannot change the answer
    step = scenario.full_sync(check_first=True)
    ctx.require(sync_completed(step, "sync(None) returns normally"))
    streams = list(ctx.manifest.streams)
    ctx.require(
        judge_full_sync(
            scenario.diff(truth),
            {s: scenario.replica.upserts(s) for s in streams},
            step.requests.to(*ctx.list_ops()),
            sizes=sizes,
            parents=dict(ctx.manifest.parents),
        )
    )


def judge_full_sync(
    diffs: list[StreamDiff],
    upserts: dict[str, Counter[Any]],
    lists: RequestLog,
    *,
    sizes: dict[str, int],
    parents: dict[str, str] | None = None,
) -> Finding | None:
    """Every record once and equal: lost, extra, written twice and changed records, per stream
    (`upserts`: stream -> id -> how often it was written, in the manifest's stream order). A
    stream synced under every parent (`parents`: stream -> parent collection) is judged across
    all of them: its records under every parent are the truth."""
    by_stream = {d.stream: d for d in diffs}
    problems: list[str] = []
    for stream, counts in upserts.items():
        problems += full_sync_problems(stream, by_stream.get(stream), counts, (parents or {}).get(stream))
    if not problems:
        return None
    return Finding.of(
        "; ".join(problems),
        expected="the replica equals the platform's records: each once, all fields equal",
        requests=lists,
        sizes=sizes,
    )


# -- INT-02 -------------------------------------------------------------------------------------


@check(
    "INT-02", pillar="integrity", severity="critical", level="basic", timeout=120, requires=("incremental",)
)
def incremental_sync_picks_up_changes(ctx: CheckContext) -> None:
    """An incremental sync from the saved state brings in exactly the creates, updates and deletes since.

    After a full sync, records are created, updated and deleted on the platform, and the connector
    runs `sync(state)` with the last state it checkpointed, into the same replica. The replica
    must then equal the platform's data: new records added, updated ones changed, deleted ones
    removed. And it must get there incrementally (from the change feed, or by the list's
    updated-since filter), not by reading every collection again.

    Deletions are judged only where the contract offers a change feed: an updated-since filter
    lists only records that still exist, so there a record deleted on the platform that the
    replica still holds is not a failure (everything else is: a missed create or update).
    """
    scenario = Scenario.paged(ctx, 1.25)
    full = require_full_sync(ctx, scenario)
    ctx.require(judge_base_sync(scenario.diff()))
    state, changes_mark = scenario.replica.state, scenario.tenant.last_change()
    made = scenario.edit()
    step = scenario.incremental(f"the incremental sync from state {json.dumps(state)[:200]}")
    ctx.require(sync_completed(step, "sync(state) returns normally"))
    changed = scenario.changed(changes_mark)
    ctx.require(judge_incremental(judged(ctx, scenario.diff(), changed), changed, step, made))
    ops = ctx.list_ops()
    ctx.require(judge_reread(stream_lists(full.requests, ops), step.requests.to(*ops), ops, made))


def judge_base_sync(diffs: list[StreamDiff]) -> Finding | None:
    """The full sync an incremental check starts from must already be right (INT-01 says why not)."""
    if not diffs:
        return None
    return Finding.of(
        "the full sync that should set up the incremental one was already wrong (see INT-01): "
        + describe_diffs(diffs),
        expected="sync(None) brings in every record, then sync(state) brings in the changes",
    )


def judge_incremental(
    diffs: list[StreamDiff], changed: dict[str, dict[Any, str]], step: SyncStep, made: dict[str, Edits]
) -> Finding | None:
    """After the edits and sync(state) the replica equals the platform, each miss named by the
    change it missed (`changed`: stream -> id -> last kind of change since the full sync)."""
    if not diffs:
        return None
    return Finding.of(
        describe_diffs(diffs, changed, "since the full sync"),
        expected="after sync(state) the replica equals the platform: new records added, "
        "updated ones changed, deleted ones removed",
        requests=step.requests,
        changes=made,
        state=step.state,
    )


def judge_reread(
    full_lists: Counter[str], lists: RequestLog, list_ops: dict[str, str], made: dict[str, Edits]
) -> Finding | None:
    """An incremental sync that lists a multi-page stream as often as the full sync did read it again."""
    counts = stream_lists(lists, list_ops)
    reread = [s for s in made if full_lists[s] > 1 and counts[s] >= full_lists[s]]
    if not reread:
        return None
    stream = reread[0]
    return Finding.of(
        f"the incremental sync read {', '.join(reread)} again in full: {counts[stream]} {stream} list "
        f"requests, as many as the full sync's {full_lists[stream]}, for "
        f"{sum(len(v) for v in made[stream].values())} changed records",
        expected="an incremental sync reads only what changed (the change feed, or the list's "
        "updated-since filter from the time of the last sync)",
        requests=lists,
        full_sync=dict(full_lists),
        incremental=dict(counts),
    )


# -- INT-03 -------------------------------------------------------------------------------------


@check(
    "INT-03", pillar="integrity", severity="high", level="standard", timeout=120, requires=("incremental",)
)
def churn_during_paging_loses_nothing(ctx: CheckContext) -> None:
    """Records that change while it pages are not lost: one incremental sync later the replica is exact.

    Production data changes while a full sync is paging through it. Here the platform creates,
    updates and deletes records right after the first and second page of every list the
    connector reads. A record updated while the connector pages moves behind it and is read
    again; one deleted after its page was read must be removed later. So after the full sync and
    one incremental sync from the state it saved, the replica must equal the platform — typical
    causes of a failure are taking the change-feed position (or the updated-since mark) *after*
    the full sync instead of before it, trusting offsets or page numbers while records before
    them are deleted (a record moves to a page already read: overlap offset pages; with page
    numbers, re-read the end of the page before at a smaller page size, which the contract's
    page and page-size parameters allow), or dropping a record seen twice.

    Without a change feed, records deleted on the platform that the replica still holds are not
    judged (an updated-since filter cannot show them). A stream whose ids hold too few records
    for two pages at the largest page size (`^WH[0-9]{2}$`) pages once, so the churn happens on
    the other streams; with no such stream the check is not applicable.
    """
    sizes = Scenario.sizes(ctx, 2.5)
    scenario = Scenario(ctx, ctx.tenant(sizes))
    held = {s: scenario.tenant.sizes.get(s, 0) for s in sizes}
    if all(held[s] <= ctx.page_size(s) for s in held):
        why = list(ctx.fitted.values()) or [f"{s}: {n} records" for s, n in held.items()]
        raise NotApplicable(
            "no stream holds more than one page at the contract's largest page size, so data cannot "
            "change while a sync pages: " + "; ".join(why)
        )
    before = ctx.truth(scenario.tenant)  # ground truth: this, plus the changes the harness makes below
    with scenario.churn(CHURN_PER_PAGE):
        full = require_full_sync(ctx, scenario, "the full sync (with data changing while it paged)")
    during = scenario.changed()
    ctx.require(judge_churned(during, max(held.values()), full.requests))
    step = scenario.incremental("the incremental sync after the full sync")
    ctx.require(sync_completed(step, "sync(state) returns normally"))
    diffs = scenario.diff(apply_harness_changes(before, scenario.tenant.changes()))
    diffs = judged(ctx, diffs, scenario.changed())
    ctx.require(judge_churn_converged(diffs, during, full.requests.faulted()))


def judge_churned(during: dict[str, dict[Any, str]], records: int, requests: RequestLog) -> Finding | None:
    """The churn fires after the first pages: no change at all means it never asked for a second one."""
    if during:
        return None
    return Finding.of(
        "the data never changed during the full sync: it made at most one request to each list, "
        f"though each holds {records} records (several pages at the largest page size)",
        expected="pages of at most the contract's maximum page size",
        requests=requests,
    )


def judge_churn_converged(
    diffs: list[StreamDiff], during: dict[str, dict[Any, str]], faulted: RequestLog
) -> Finding | None:
    """After the churned full sync and one incremental sync the replica equals the platform."""
    if not diffs:
        return None
    count = sum(len(ids) for ids in during.values())
    return Finding.of(
        describe_diffs(diffs, during, "while it paged")
        + f" ({count} records changed during the full sync; the replica was compared after one "
        "more incremental sync)",
        expected="after the full sync and one incremental sync the replica equals the platform",
        requests=faulted,
    )
