"""Judgements every sync-based check shares: a sync completed, it left a checkpoint, and how a
replica's differences from the platform are said in a message."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from harness.checks.context import StreamDiff
from harness.checks.diff import shown
from harness.checks.failures import Finding
from harness.checks.scenario import SyncStep
from harness.core import RequestLog


def sync_completed(step: SyncStep, expected: str) -> Finding | None:
    """`<what> did not complete: <error>` with its last failed requests, when the run raised."""
    if step.error is None:
        return None
    return Finding.of(
        f"{step.what} did not complete: {step.error}", expected=expected, requests=step.requests.failed()[-5:]
    )


def checkpointed(what: str, state: Any) -> Finding | None:
    """A full sync must leave a state behind, or there is nothing to sync incrementally from."""
    if state is not None:
        return None
    return Finding.of(
        f"{what} completed without a single checkpoint, so there is no state to sync incrementally from",
        expected="sink.checkpoint(state) (a STATE message) at least once, at the end of the sync",
    )


def stream_lists(log: RequestLog, list_ops: dict[str, str]) -> Counter[str]:
    """How many list requests each synced stream got (answered 200) in a piece of the request log;
    `list_ops` is operationId -> stream (`ctx.list_ops()`)."""
    return Counter(list_ops[e.operation] for e in log.to(*list_ops).status(200) if e.operation)


def full_sync_problems(
    stream: str, diff: StreamDiff | None, upserts: Counter[Any], parent: str | None
) -> list[str]:
    """What a full sync got wrong in one stream: lost, extra, written twice, changed records;
    `parent` names the collection it is synced under every record of, when it is."""
    problems = []
    doubled = {i: n for i, n in upserts.items() if n > 1}
    if diff is not None and diff.lost:
        under = f" (the records under every {parent} record, which it declares it syncs)" if parent else ""
        problems.append(
            f"{stream}: lost {len(diff.lost)} of {diff.truth} records (e.g. {shown(diff.lost[0])}){under}"
        )
    if diff is not None and diff.extra:
        problems.append(
            f"{stream}: stored {len(diff.extra)} records the platform does not have "
            f"(e.g. {shown(diff.extra[0])}){diff.retyped()}"
        )
    if doubled:
        first = next(iter(doubled))
        problems.append(
            f"{stream}: wrote {len(doubled)} records more than once "
            f"(e.g. {shown(first)} {doubled[first]} times)"
        )
    if diff is not None and diff.stale:
        first = diff.stale[0]
        problems.append(
            f"{stream}: {len(diff.stale)} records differ from the platform's "
            f"(e.g. {shown(first)}: {', '.join(diff.fields[first]) or 'extra fields'})"
        )
    return problems


def unseen_deletions(diffs: list[StreamDiff], changed: dict[str, dict[Any, str]]) -> list[StreamDiff]:
    """The diffs less what no sync could see without a change feed: records the replica still
    holds whose last change on the platform was a deletion. Nothing else is forgiven: a record
    lost, never created, or holding old values is still a difference."""
    out = []
    for d in diffs:
        kinds = changed.get(d.stream, {})
        extra = [i for i in d.extra if kinds.get(i) != "deleted"]
        if d.lost or d.stale or extra:
            out.append(replace(d, extra=extra))
    return out


def describe_diffs(
    diffs: list[StreamDiff], changed: dict[str, dict[Any, str]] | None = None, when: str = ""
) -> str:
    """`contacts: kept 2 records deleted since ... (e.g. con_1)`; `changed` names what happened to an id."""
    changed = changed or {}
    parts: list[str] = []
    for d in diffs:
        kinds = changed.get(d.stream, {})
        parts += _lost(d, kinds, when) + _extra(d, kinds, when) + _stale(d, kinds, when)
    return "; ".join(parts)


def _lost(d: StreamDiff, kinds: dict[Any, str], when: str) -> list[str]:
    parts = []
    created = [i for i in d.lost if kinds.get(i) == "created"]
    if created:
        parts.append(f"{d.stream}: missed {records(len(created))} created {when} (e.g. {shown(created[0])})")
    others = [i for i in d.lost if kinds.get(i) != "created"]
    if others:
        parts.append(f"{d.stream}: lost {len(others)} of {d.truth} records (e.g. {shown(others[0])})")
    return parts


def _extra(d: StreamDiff, kinds: dict[Any, str], when: str) -> list[str]:
    parts = []
    deleted = [i for i in d.extra if kinds.get(i) == "deleted"]
    if deleted:
        parts.append(f"{d.stream}: kept {records(len(deleted))} deleted {when} (e.g. {shown(deleted[0])})")
    others = [i for i in d.extra if kinds.get(i) != "deleted"]
    if others:
        parts.append(
            f"{d.stream}: stored {records(len(others))} the platform does not have (e.g. {shown(others[0])})"
        )
    return parts


def _stale(d: StreamDiff, kinds: dict[Any, str], when: str) -> list[str]:
    if not d.stale:
        return []
    updated = [i for i in d.stale if kinds.get(i) in ("updated", "created")]
    first = (updated or d.stale)[0]
    verb = "holds" if len(d.stale) == 1 else "hold"
    what = f"updated {when} still {verb}" if updated else verb
    return [
        f"{d.stream}: {records(len(d.stale))} {what} old or wrong values "
        f"(e.g. {shown(first)}: {', '.join(d.fields[first]) or 'extra fields'})"
    ]


def records(n: int) -> str:
    """`1 record`, `3 records`."""
    return f"{n} record" if n == 1 else f"{n} records"
