"""Integrity checks: what the connector stores is exactly what the platform holds."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from harness.checks.context import CheckContext, RunError, StreamDiff, Truth
from harness.checks.contract import push_bodies
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.core import ChangeEvent, Fault, RequestLog, last_kinds
from harness.core.changes import CREATED_NAMES
from harness.core.errors import HarnessError
from harness.runtime import TenantHandle

PAGES = 3.5  # enough records for several pages at the contract's largest page size


@check("INT-01", pillar="integrity", severity="critical", timeout=180)
def full_sync_equals_ground_truth(ctx: CheckContext) -> None:
    """A full sync brings in every record exactly once, across many pages, with every field intact.

    The tenant holds several pages of each stream. After `sync(None)` the replica must equal the
    platform's data: no record lost (stopping before the last page, skipping a page), none
    written twice (re-reading a page), and field values unchanged.
    """
    sizes = {stream: ctx.pages(stream, PAGES) for stream in ctx.manifest.streams}
    tenant = ctx.tenant(sizes)
    truth_before = ctx.truth(tenant)  # read before the connector runs: it cannot change the answer
    run = ctx.sync(tenant)
    if run.error is not None:
        raise ctx.fail(
            f"the full sync did not complete: {run.error}",
            expected="sync(None) returns normally",
            requests=run.requests.failed()[-5:],
        )
    problems = []
    for stream in ctx.manifest.streams:
        truth = {i: ctx.expected(stream, r) for i, r in truth_before[stream].items()}
        rows = run.replica.rows.get(stream, {})
        lost = [i for i in truth if i not in rows]
        extra = [i for i in rows if i not in truth]
        doubled = {i: n for i, n in run.replica.upserts(stream).items() if n > 1}
        changed = [i for i in truth if i in rows and ctx.expected(stream, rows[i]) != truth[i]]
        if lost:
            problems.append(f"{stream}: lost {len(lost)} of {len(truth)} records (e.g. {lost[0]})")
        if extra:
            problems.append(
                f"{stream}: stored {len(extra)} records the platform does not have (e.g. {extra[0]})"
            )
        if doubled:
            first = next(iter(doubled))
            problems.append(
                f"{stream}: wrote {len(doubled)} records more than once (e.g. {first} {doubled[first]} times)"
            )
        if changed:
            first = changed[0]
            fields = sorted(k for k in truth[first] if rows[first].get(k) != truth[first][k])
            problems.append(
                f"{stream}: {len(changed)} records differ from the platform's "
                f"(e.g. {first}: {', '.join(fields) or 'extra fields'})"
            )
    if problems:
        lists = run.requests.to(*ctx.list_ops())
        raise ctx.fail(
            "; ".join(problems),
            expected="the replica equals the platform's records: each once, all fields equal",
            requests=lists,
            sizes=sizes,
        )


def _apply_harness_changes(truth: Truth, changes: list[ChangeEvent]) -> Truth:
    """Ground truth moved on by the changes the harness itself made (faults, the control API),
    never by what the connector did through the API: a connector that deletes records cannot
    make its own empty replica look right."""
    out = {stream: dict(rows) for stream, rows in truth.items()}
    for change in changes:
        rows = out.get(change.collection)
        if rows is None or not change.by_harness:
            continue
        if change.type == "deleted":
            rows.pop(change.id, None)
        elif change.record is not None:
            rows[change.id] = dict(change.record)
    return out


# -- comparing a replica with the platform ------------------------------------------------------


def describe_diffs(
    diffs: list[StreamDiff], changed: dict[str, dict[Any, str]] | None = None, when: str = ""
) -> str:
    """`contacts: kept 2 records deleted since ... (e.g. con_1)`; `changed` names what happened to an id."""
    changed = changed or {}
    parts = []
    for d in diffs:
        kinds = changed.get(d.stream, {})
        if d.lost:
            created = [i for i in d.lost if kinds.get(i) == "created"]
            if created:
                parts.append(
                    f"{d.stream}: missed {_records(len(created))} created {when} (e.g. {created[0]})"
                )
            others = [i for i in d.lost if kinds.get(i) != "created"]
            if others:
                parts.append(f"{d.stream}: lost {len(others)} of {d.truth} records (e.g. {others[0]})")
        if d.extra:
            deleted = [i for i in d.extra if kinds.get(i) == "deleted"]
            if deleted:
                parts.append(f"{d.stream}: kept {_records(len(deleted))} deleted {when} (e.g. {deleted[0]})")
            others = [i for i in d.extra if kinds.get(i) != "deleted"]
            if others:
                n = _records(len(others))
                parts.append(f"{d.stream}: stored {n} the platform does not have (e.g. {others[0]})")
        if d.stale:
            updated = [i for i in d.stale if kinds.get(i) in ("updated", "created")]
            first = (updated or d.stale)[0]
            verb = "holds" if len(d.stale) == 1 else "hold"
            what = f"updated {when} still {verb}" if updated else verb
            parts.append(
                f"{d.stream}: {_records(len(d.stale))} {what} old or wrong values "
                f"(e.g. {first}: {', '.join(d.fields[first]) or 'extra fields'})"
            )
    return "; ".join(parts)


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def changed_ids(tenant: TenantHandle, since: int = 0) -> dict[str, dict[Any, str]]:
    """stream -> id -> the last kind of change it had (created, updated, deleted) after `since`."""
    return last_kinds(tenant.changes(since))


def _stream_lists(ctx: CheckContext, log: RequestLog) -> Counter[str]:
    """How many list requests each synced stream got (answered 200) in a piece of the request log."""
    ops = ctx.list_ops()
    return Counter(ops[e.operation] for e in log.to(*ops).status(200) if e.operation)


def run_sync(ctx: CheckContext, tenant: TenantHandle, replica: Replica, state: Any) -> RunError | None:
    """One sync(state) into `replica` with a fresh connector instance; its error, if it failed."""
    return ctx.sync(tenant, state, check_first=False, replica=replica).error


def _sync_or_fail(
    ctx: CheckContext,
    tenant: TenantHandle,
    replica: Replica,
    state: Any,
    what: str,
    expected: str,
    mark: int = 0,
) -> RequestLog:
    """sync(state) into `replica`; fail naming `what` if it did not complete. Returns the
    request log from `mark` on."""
    error = run_sync(ctx, tenant, replica, state)
    log = tenant.requests(mark)
    if error is not None:
        raise ctx.fail(
            f"{what} did not complete: {error}",
            expected=expected,
            requests=log.failed()[-5:],
        )
    return log


def full_sync(ctx: CheckContext, tenant: TenantHandle, replica: Replica, what: str = "the full sync") -> None:
    _sync_or_fail(ctx, tenant, replica, None, what, "sync(None) returns normally")
    if replica.state is None:
        raise ctx.fail(
            f"{what} completed without a single checkpoint, so there is no state to sync incrementally from",
            expected="sink.checkpoint(state) (a STATE message) at least once, at the end of the sync",
        )


def _edit(ctx: CheckContext, tenant: TenantHandle, stream: str) -> dict[str, list[Any]]:
    """Two creates, two updates and two deletes in one stream, each on a different record."""
    col = ctx.contract.collections[stream]
    records = tenant.records(stream)
    if len(records) < 5:
        raise RuntimeError(f"INT-02 needs at least 5 {stream} records, the tenant has {len(records)}")
    keep = {col.id_field, col.updated_field, *CREATED_NAMES}
    updated = []
    for target, donor in ((records[1], records[2]), (records[-2], records[-1])):
        fields = {k: v for k, v in donor.items() if k not in keep and target.get(k) != v}
        name = next(iter(fields), None)
        if name is not None:
            tenant.update(stream, target[col.id_field], {name: fields[name]})
            updated.append(target[col.id_field])
    deleted = [records[0][col.id_field], records[len(records) // 2][col.id_field]]
    for record_id in deleted:
        tenant.remove(stream, record_id)
    created = [tenant.create(stream)[col.id_field] for _ in range(2)]
    return {"created": created, "updated": updated, "deleted": deleted}


@check("INT-02", pillar="integrity", severity="critical", level="basic", timeout=120)
def incremental_sync_picks_up_changes(ctx: CheckContext) -> None:
    """An incremental sync from the saved state brings in exactly the creates, updates and deletes since.

    After a full sync, records are created, updated and deleted on the platform, and the connector
    runs `sync(state)` with the last state it checkpointed, into the same replica. The replica
    must then equal the platform's data: new records added, updated ones changed, deleted ones
    removed. And it must get there incrementally (from the change feed, or by `updated_since`),
    not by reading every collection again.
    """
    sizes = {stream: ctx.pages(stream, 1.25) for stream in ctx.manifest.streams}
    tenant = ctx.tenant(sizes)
    replica = ctx.replica()
    full_sync(ctx, tenant, replica)
    before = ctx.diff(tenant, replica)
    if before:
        raise ctx.fail(
            "the full sync that should set up the incremental one was already wrong (see INT-01): "
            + describe_diffs(before),
            expected="sync(None) brings in every record, then sync(state) brings in the changes",
        )
    full_lists = _stream_lists(ctx, tenant.requests())
    state, mark, changes_mark = replica.state, tenant.requests().last_seq, tenant.last_change()
    made = {stream: _edit(ctx, tenant, stream) for stream in ctx.manifest.streams}
    log = _sync_or_fail(
        ctx,
        tenant,
        replica,
        state,
        f"the incremental sync from state {json.dumps(state)[:200]}",
        "sync(state) returns normally",
        mark,
    )
    diffs = ctx.diff(tenant, replica)
    if diffs:
        raise ctx.fail(
            describe_diffs(diffs, changed_ids(tenant, changes_mark), "since the full sync"),
            expected="after sync(state) the replica equals the platform: new records added, "
            "updated ones changed, deleted ones removed",
            requests=log,
            changes=made,
            state=state,
        )
    lists = _stream_lists(ctx, log)
    reread = [s for s in ctx.manifest.streams if full_lists[s] > 1 and lists[s] >= full_lists[s]]
    if reread:
        stream = reread[0]
        raise ctx.fail(
            f"the incremental sync read {', '.join(reread)} again in full: {lists[stream]} {stream} list "
            f"requests, as many as the full sync's {full_lists[stream]}, for "
            f"{sum(len(v) for v in made[stream].values())} changed records",
            expected="an incremental sync reads only what changed (the change feed, or updated_since)",
            requests=log.to(*ctx.list_ops()),
            full_sync=dict(full_lists),
            incremental=dict(lists),
        )


CHURN_PER_PAGE = 10  # changes the platform makes after each of the first pages


@check("INT-03", pillar="integrity", severity="high", level="standard", timeout=120)
def churn_during_paging_loses_nothing(ctx: CheckContext) -> None:
    """Records that change while it pages are not lost: one incremental sync later the replica is exact.

    Production data changes while a full sync is paging through it. Here the platform creates,
    updates and deletes records right after the first and second page of every list the
    connector reads. A record updated while the connector pages moves behind it and is read
    again; one deleted after its page was read must be removed later. So after the full sync and
    one incremental sync from the state it saved, the replica must equal the platform — typical
    causes of a failure are taking the change-feed position *after* the full sync instead of
    before it, paging by offset, or dropping a record seen twice.
    """
    sizes = {stream: ctx.pages(stream, 2.5) for stream in ctx.manifest.streams}
    tenant = ctx.tenant(sizes)
    before = ctx.truth(tenant)  # ground truth: this, plus the changes the harness makes below
    ops = [ctx.list_op(s) for s in ctx.manifest.streams]
    tenant.set_faults([Fault.churning(CHURN_PER_PAGE, op, after=1, times=2) for op in ops])
    replica = ctx.replica()
    full_sync(ctx, tenant, replica, "the full sync (with data changing while it paged)")
    tenant.clear_faults()
    during = changed_ids(tenant)
    if not during:
        raise ctx.fail(
            "the data never changed during the full sync: it made at most one request to each list, "
            f"though each holds {max(sizes.values())} records (several pages at the largest page size)",
            expected="pages of at most the contract's maximum page size",
            requests=tenant.requests(),
        )
    mark = tenant.requests().last_seq
    _sync_or_fail(
        ctx,
        tenant,
        replica,
        replica.state,
        "the incremental sync after the full sync",
        "sync(state) returns normally",
        mark,
    )
    diffs = ctx.diff(tenant, replica, _apply_harness_changes(before, tenant.changes()))
    if diffs:
        count = sum(len(ids) for ids in during.values())
        raise ctx.fail(
            describe_diffs(diffs, during, "while it paged")
            + f" ({count} records changed during the full sync; the replica was compared after one "
            "more incremental sync)",
            expected="after the full sync and one incremental sync the replica equals the platform",
            requests=tenant.requests().faulted(),
        )


class _CrashingReplica(Replica):
    """A replica whose sink fails on the n-th upsert: the connector's process dies mid-page."""

    crash_at: int | None = None

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        if self.crash_at is not None:
            self.crash_at -= 1
            if self.crash_at <= 0:
                self.crash_at = None
                raise _Crash(f"simulated crash while storing {stream} record {len(self.operations) + 1}")
        super().upsert(stream, record)


class _Crash(HarnessError, RuntimeError):
    pass


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
    sizes = {stream: ctx.pages(stream, 2.5) for stream in ctx.manifest.streams}
    tenant = ctx.tenant(sizes)
    replica = _CrashingReplica(id_fields=ctx.replica().id_fields)
    total = sum(sizes.values())
    replica.crash_at = int(total * 0.45) + 7  # past the first stream (of several), mid-page
    error = run_sync(ctx, tenant, replica, None)
    crashed = replica.crash_at is None
    if not crashed:
        raise ctx.fail(
            f"the full sync stored only {len(replica.operations)} of {total} records and returned "
            f"{'an error: ' + str(error) if error else 'normally'}, before the simulated crash",
            expected="a full sync stores every record",
        )
    mark = tenant.requests().last_seq
    state, crashed_at = replica.state, len(replica.operations)
    resumed_log = _sync_or_fail(
        ctx,
        tenant,
        replica,
        state,
        f"the run resuming from the last checkpoint {json.dumps(state)[:200]}",
        "sync(last checkpoint) returns normally",
        mark,
    )
    diffs = ctx.diff(tenant, replica)
    if diffs:
        raise ctx.fail(
            f"after a crash at record {crashed_at + 1} and a resume from the last checkpoint "
            f"({json.dumps(state)[:200]}): "
            + describe_diffs(diffs)
            + " — stored neither before the crash nor after it: the checkpoint named a position past "
            "records it had not stored yet",
            expected="a checkpoint names a position only once every record before it is stored",
            requests=resumed_log.to(*ctx.list_ops())[:2],
        )
    # A resume re-stores at most the page it crashed in (a command connector may have read ahead of
    # what the harness stored, so requests alone do not say what was re-read); starting over
    # re-stores everything stored before the crash.
    before = {(op.stream, op.id) for op in replica.operations[:crashed_at] if op.kind == "upsert"}
    again = {
        (op.stream, op.id)
        for op in replica.operations[crashed_at:]
        if op.kind == "upsert" and (op.stream, op.id) in before
    }
    page = max(ctx.page_size(s) for s in ctx.manifest.streams)
    if len(again) > page:
        lists = resumed_log.to(*ctx.list_ops())
        why = (
            "it checkpointed nothing before the crash, so the resume was a full sync"
            if state is None
            else f"its last checkpoint was {json.dumps(state)[:200]}"
        )
        stream, record_id = next(iter(sorted(again, key=str)))
        raise ctx.fail(
            f"the resumed run started over: it stored again {len(again)} of the {len(before)} records "
            f"it had stored before the crash (e.g. {stream} {record_id}), with {len(lists)} list "
            f"requests starting at {lists[0].line() if lists else 'none'}; {why}",
            expected="checkpoint after each page and resume from there, re-reading at most the page "
            "it was in when it crashed",
            requests=lists,
        )


@check("INT-06", pillar="integrity", severity="critical", level="standard", timeout=60)
def retried_push_creates_no_duplicate(ctx: CheckContext) -> None:
    """A push retried after a failure that had already committed creates no duplicate.

    The platform stores the first record the connector pushes and then fails the request: it
    answers 502 (or, where the sandbox cannot do that, cuts the connection in the middle of
    the response). The connector cannot tell whether the write happened, so it retries; the
    retry must carry the same `Idempotency-Key` so the platform replays the first answer
    instead of creating the record a second time. Each pushed record must exist exactly once.
    """
    if not ctx.manifest.pushes:
        raise NotApplicable("the connector declares no pushes, so there is no write to retry")
    stream = ctx.manifest.pushes[0]
    col = ctx.contract.collections.get(stream)
    if col is None or col.create_op is None:
        raise NotApplicable(f"the contract has no create operation for the pushed stream {stream!r}")
    create_op = col.create_op.operation_id
    tenant = ctx.tenant({s: 5 for s in (*ctx.manifest.streams, *ctx.manifest.pushes)}, purpose="push")
    records = push_bodies(ctx, tenant, stream, 2)
    fault = _commit_then_fail(tenant, create_op)
    mark, changes_mark = tenant.requests().last_seq, tenant.last_change()
    connector = ctx.connector(tenant)
    error: RunError | None = None
    try:
        connector.check()
        connector.push(stream, records)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        error = exc
    finally:
        connector.close()
    tenant.clear_faults()
    log = tenant.requests(mark).to(create_op)
    created = [c for c in tenant.changes(changes_mark) if (c.collection, c.type) == (stream, "created")]
    if not log.faulted():
        raise ctx.fail(
            f"pushing {len(records)} {stream} records made no {create_op} request"
            + (f": {error}" if error else ""),
            expected=f"push() creates each record with {create_op}",
            requests=tenant.requests(mark),
        )
    if len(created) > len(records):
        keys = [e.idempotency_key for e in log]
        if not all(keys):
            why = f"{keys.count(None)} of its {len(keys)} {create_op} requests had no Idempotency-Key"
        elif len(set(keys)) > len(records):
            why = (
                f"its retry carried a different Idempotency-Key from the request it retried "
                f"({len(set(keys))} keys for {len(records)} records)"
            )
        else:
            why = "the platform did not replay the keyed retry (its body differed from the first attempt's?)"
        raise ctx.fail(
            f"pushing {len(records)} {stream} records created {len(created)} "
            f"(ids {', '.join(str(c.id) for c in created[:4])}): after the {fault} on an already "
            f"committed {create_op}, the retry created the record again — {why}",
            expected="every retry of a write sends the same Idempotency-Key, so the platform replays it",
            requests=log,
            idempotency_keys=keys,
        )


def _commit_then_fail(tenant: TenantHandle, operation: str) -> str:
    """Fault the first create so that it commits, then fails; the name of the failure for messages."""
    if tenant.sandbox.capabilities().supports("status_after"):
        tenant.set_faults([Fault.error_after_commit(502, operation)])
        return "502"
    # this sandbox has no status_after fault: a dropped connection also commits, then fails
    tenant.set_faults([Fault.dropped(operation)])
    return "dropped connection"
