"""INT-06: a push retried after a failure that had already committed creates no duplicate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checks.context import CheckContext, RunError
from harness.checks.contract import push_bodies
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.checks.scenario import Scenario
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import ChangeEvent, Fault, RequestLog


@check("INT-06", pillar="integrity", severity="critical", level="standard", timeout=60, requires=("writes",))
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
    scenario = Scenario(ctx, tenant)
    fault, name = commit_then_fail(tenant.sandbox.capabilities().supports("status_after"), create_op)
    mark, changes_mark = tenant.requests().last_seq, tenant.last_change()
    with scenario.faults(fault):
        error = _push(ctx, scenario, stream, records)
    log = tenant.requests(mark)
    created = [c for c in tenant.changes(changes_mark) if (c.collection, c.type) == (stream, "created")]
    ctx.require(judge_pushed(log, create_op, stream, len(records), error))
    ctx.require(judge_no_duplicate(log.to(create_op), created, len(records), stream, create_op, name))


def commit_then_fail(status_after: bool, operation: str) -> tuple[Fault, str]:
    """A fault on the first create that lets it commit, then fails it; and the failure's name for
    messages. Without the sandbox's status_after fault, a dropped connection also commits, then fails."""
    if status_after:
        return Fault.error_after_commit(502, operation), "502"
    return Fault.dropped(operation), "dropped connection"


def _push(
    ctx: CheckContext, scenario: Scenario, stream: str, records: list[dict[str, Any]]
) -> RunError | None:
    connector = ctx.connector(scenario.tenant, scenario.replica)
    try:
        connector.check()
        connector.push(stream, records)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        return exc
    finally:
        connector.close()
    return None


def judge_pushed(
    log: RequestLog, create_op: str, stream: str, records: int, error: RunError | None
) -> Finding | None:
    """The fault fires on the first create: a push that never reached it proves nothing."""
    if log.to(create_op).faulted():
        return None
    return Finding.of(
        f"pushing {records} {stream} records made no {create_op} request" + (f": {error}" if error else ""),
        expected=f"push() creates each record with {create_op}",
        requests=log,
    )


def judge_no_duplicate(
    creates: RequestLog, created: Sequence[ChangeEvent], records: int, stream: str, create_op: str, fault: str
) -> Finding | None:
    """Each pushed record exists once; a duplicate is explained by the retry's Idempotency-Key."""
    if len(created) <= records:
        return None
    keys = [e.idempotency_key for e in creates]
    return Finding.of(
        f"pushing {records} {stream} records created {len(created)} "
        f"(ids {', '.join(str(c.id) for c in created[:4])}): after the {fault} on an already "
        f"committed {create_op}, the retry created the record again — "
        + _why_duplicated(keys, records, create_op),
        expected="every retry of a write sends the same Idempotency-Key, so the platform replays it",
        requests=creates,
        idempotency_keys=keys,
    )


def _why_duplicated(keys: list[str | None], records: int, create_op: str) -> str:
    if not all(keys):
        return f"{keys.count(None)} of its {len(keys)} {create_op} requests had no Idempotency-Key"
    if len(set(keys)) > records:
        return (
            f"its retry carried a different Idempotency-Key from the request it retried "
            f"({len(set(keys))} keys for {records} records)"
        )
    return "the platform did not replay the keyed retry (its body differed from the first attempt's?)"
