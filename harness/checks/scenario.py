"""The steps checks repeat, as parts: sync into a replica, change the platform, fault it, crash
the connector, deliver webhooks. A check strings a few together on one tenant and one replica,
then judges the evidence the steps left (SyncStep, Delivered, `diff`) with pure functions.

Each step records only what the sandbox and the replica saw; nothing here decides pass or fail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.checks.context import CheckContext, RunError, StreamDiff, Truth
from harness.checks.deliveries import Delivery, Event
from harness.connectors import Replica
from harness.core import ChangeEvent, Fault, RequestLog, last_kinds
from harness.core.changes import CREATED_NAMES
from harness.core.errors import HarnessError
from harness.runtime import TenantHandle

Edits = dict[str, list[Any]]  # created | updated | deleted -> the ids the harness changed that way


@dataclass(frozen=True)
class SyncStep:
    """One connector run: what it was asked (`state`), how it ended, the requests it made."""

    what: str  # how messages name it: "the full sync", "the incremental sync from state ..."
    state: Any  # the state it started from; None for a full sync
    error: RunError | None
    requests: RequestLog  # the tenant's requests from the start of this step on


@dataclass(frozen=True)
class Delivered:
    """One webhook delivery and what it did to the replica."""

    event: Event
    record_id: Any
    record: dict[str, Any]  # what the replica should hold for the record (`ctx.expected`)
    headers: dict[str, str]
    payload: bytes
    status: int | str  # the status the connector answered, or what went wrong ("crashed (...)")
    applied: tuple[tuple[str, str, Any], ...]  # (kind, stream, id) of every replica operation it made
    row: dict[str, Any] | None  # the record's row in the replica afterwards

    @property
    def accepted(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """`answered 401`, or what went wrong instead."""
        return self.status if isinstance(self.status, str) else f"answered {self.status}"

    def on_record(self) -> list[str]:
        """The kinds of the operations it made on its own record."""
        return [
            kind for kind, stream, i in self.applied if (stream, i) == (self.event.collection, self.record_id)
        ]


class CrashingReplica(Replica):
    """A replica whose sink fails on the n-th upsert: the connector's process dies mid-page."""

    crash_at: int | None = None
    crashed: bool = False

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        if self.crash_at is not None:
            self.crash_at -= 1
            if self.crash_at <= 0:
                self.crash_at, self.crashed = None, True
                raise Crash(f"simulated crash while storing {stream} record {len(self.operations) + 1}")
        super().upsert(stream, record)


class Crash(HarnessError, RuntimeError):
    """The simulated crash of a connector's process, raised in its sink."""


def apply_harness_changes(truth: Truth, changes: list[ChangeEvent]) -> Truth:
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


class Scenario:
    """One tenant, one replica, and the steps a check takes on them in order.

    Use it as a context manager when it delivers webhooks (the receiving connector is closed at
    the end).
    """

    def __init__(self, ctx: CheckContext, tenant: TenantHandle, replica: Replica | None = None) -> None:
        self.ctx, self.tenant = ctx, tenant
        self.replica = replica if replica is not None else ctx.replica()
        self.steps: list[SyncStep] = []
        self._mark = 0  # the last request seen: each step's log starts after it
        self._receiver: Delivery | None = None

    @classmethod
    def paged(cls, ctx: CheckContext, pages: float) -> Scenario:
        """A fresh tenant holding this many pages (at the largest page size) of every synced stream."""
        return cls(ctx, ctx.tenant(cls.sizes(ctx, pages)))

    @staticmethod
    def sizes(ctx: CheckContext, pages: float) -> dict[str, int]:
        return {stream: ctx.pages(stream, pages) for stream in ctx.manifest.streams}

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None

    # -- connector runs ----------------------------------------------------------------------

    def sync(self, state: Any, what: str, *, check_first: bool = False) -> SyncStep:
        """sync(state) into the replica with a fresh connector instance."""
        error = self.ctx.sync(self.tenant, state, check_first=check_first, replica=self.replica).error
        log = self.tenant.requests(self._mark)
        self._mark = max(self._mark, log.last_seq)
        step = SyncStep(what, state, error, log)
        self.steps.append(step)
        return step

    def full_sync(self, what: str = "the full sync", *, check_first: bool = False) -> SyncStep:
        return self.sync(None, what, check_first=check_first)

    def incremental(self, what: str = "the incremental sync") -> SyncStep:
        """sync(state) from the last state the connector checkpointed."""
        return self.sync(self.replica.state, what)

    def crash_at(self, upserts: int) -> CrashingReplica:
        """Make the connector's process die while storing its n-th record (from now on)."""
        if self.replica.operations:
            raise RuntimeError("a crash is set up before the replica stores anything")
        crashing = CrashingReplica(id_fields=self.replica.id_fields)
        crashing.crash_at = upserts
        self.replica = crashing
        return crashing

    # -- the platform ------------------------------------------------------------------------

    @contextlib.contextmanager
    def faults(self, *faults: Fault) -> Iterator[None]:
        """These faults on the platform for the steps inside the block, none after it."""
        self.tenant.set_faults(list(faults))
        try:
            yield
        finally:
            self.tenant.clear_faults()

    def churn(
        self, per_page: int, *, after: int = 1, times: int = 2
    ) -> contextlib.AbstractContextManager[None]:
        """The platform creates, updates and deletes `per_page` records right after answering
        list pages `after + 1` .. `after + times` of every synced stream."""
        ops = [self.ctx.list_op(s) for s in self.ctx.manifest.streams]
        return self.faults(*(Fault.churning(per_page, op, after=after, times=times) for op in ops))

    def edit(self) -> dict[str, Edits]:
        """Two creates, two updates and two deletes in every synced stream, each on a different record."""
        return {stream: self._edit(stream) for stream in self.ctx.manifest.streams}

    def _edit(self, stream: str) -> Edits:
        col = self.ctx.contract.collections[stream]
        records = self.tenant.records(stream)
        if len(records) < 5:
            raise RuntimeError(
                f"{self.ctx.check_id} needs at least 5 {stream} records, the tenant has {len(records)}"
            )
        keep = {col.id_field, col.updated_field, *CREATED_NAMES}
        updated = []
        for target, donor in ((records[1], records[2]), (records[-2], records[-1])):
            fields = {k: v for k, v in donor.items() if k not in keep and target.get(k) != v}
            name = next(iter(fields), None)
            if name is not None:
                self.tenant.update(stream, target[col.id_field], {name: fields[name]})
                updated.append(target[col.id_field])
        deleted = [records[0][col.id_field], records[len(records) // 2][col.id_field]]
        for record_id in deleted:
            self.tenant.remove(stream, record_id)
        created = [self.tenant.create(stream)[col.id_field] for _ in range(2)]
        return {"created": created, "updated": updated, "deleted": deleted}

    # -- webhooks ----------------------------------------------------------------------------

    @property
    def receiver(self) -> Delivery:
        """The connector that receives this scenario's deliveries, storing into its replica."""
        if self._receiver is None:
            self._receiver = Delivery(self.ctx, self.tenant, self.replica)
        return self._receiver

    def deliver(
        self,
        event: Event,
        record: dict[str, Any],
        *,
        tampering: str | None = None,
        previous: Delivered | None = None,
    ) -> Delivered:
        """Deliver one event about `record`: correctly signed, tampered (a core.signing kind), or
        `previous`'s message again (same body, same webhook-id: a platform's retry)."""
        wh = self.receiver
        record_id = record[self.ctx.contract.collections[event.collection].id_field]
        if previous is not None:  # the very same message: same body, same headers
            payload, headers = previous.payload, dict(previous.headers)
        else:
            payload = wh.payload(event, wh.data(event, record))
            if tampering is None:
                headers = wh.sign(event, payload)
            else:
                headers, payload = wh.tamper(event, tampering, payload)
        before = len(self.replica.operations)
        status = wh.send(headers, payload)
        applied = tuple((op.kind, op.stream, op.id) for op in list(self.replica.operations)[before:])
        row = self.replica.rows.get(event.collection, {}).get(record_id)
        expected = self.ctx.expected(event.collection, record)
        return Delivered(event, record_id, expected, headers, payload, status, applied, row)

    def store(self, collection: str, record: dict[str, Any]) -> None:
        """Put a record in the replica as if an earlier sync had stored it."""
        self.replica.upsert(collection, record)

    # -- what the steps left -----------------------------------------------------------------

    def diff(self, truth: Truth | None = None) -> list[StreamDiff]:
        """`ctx.diff` of this scenario's replica: against the platform now, or `truth`."""
        return self.ctx.diff(self.tenant, self.replica, truth)

    def changed(self, since: int = 0) -> dict[str, dict[Any, str]]:
        """stream -> id -> the last kind of change it had (created, updated, deleted) after `since`."""
        return last_kinds(self.tenant.changes(since))
