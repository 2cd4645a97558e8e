"""Webhook checks: deliveries are verified, applied once, and bad ones refused without side effects.

Deliveries are crafted the way the platform signs them (Standard Webhooks: `webhook-id`,
`webhook-timestamp`, `webhook-signature`) with the payload shape of the contract's `webhooks`
section, carrying real records of a fresh tenant. Every connector gets its own webhook secret in
its config (`webhook_secret`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.checks.context import CheckContext, Driver
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.contract.schema import validator_for
from harness.core import new_secret, sign, singular, tamper
from harness.runtime import TenantHandle

ACTIONS = ("created", "updated", "deleted")
TAMPERING = {
    "bad_signature": "a signature that does not match the body",
    "wrong_secret": "a signature made with another secret",
    "stale_timestamp": "a timestamp an hour old",
    "future_timestamp": "a timestamp an hour ahead",
    "missing_id": "no webhook-id header",
    "missing_timestamp": "no webhook-timestamp header",
    "missing_signature": "no webhook-signature header",
}


@dataclass(frozen=True)
class Event:
    """One declared event type: which collection it is about and what happened to the record."""

    type: str
    collection: str
    action: str  # created | updated | deleted
    schema_uri: str | None  # the JSON body's schema in the contract

    @property
    def upserts(self) -> bool:
        return self.action != "deleted"


class Delivery:
    """A connector bound to a fresh tenant and replica, with its own webhook secret."""

    def __init__(self, ctx: CheckContext, tenant: TenantHandle) -> None:
        self.ctx, self.tenant = ctx, tenant
        self.secret = new_secret()
        self.replica = ctx.replica()
        self.connector: Driver = ctx.connector(tenant, self.replica, webhook_secret=self.secret)

    def payload(self, event: Event, data: dict[str, Any]) -> bytes:
        """The body of one event, checked against the contract (a bad one is the harness's bug)."""
        body = {"type": event.type, "timestamp": _now(), "data": data}
        if event.schema_uri is not None:
            errors = list(validator_for(self.ctx.contract, event.schema_uri).iter_errors(body))
            if errors:
                raise RuntimeError(
                    f"the harness made a {event.type} payload its contract refuses: {errors[0].message}"
                )
        return json.dumps(body, separators=(",", ":")).encode()

    def data(self, event: Event, record: dict[str, Any]) -> dict[str, Any]:
        if event.upserts:
            return record
        id_field = self.ctx.contract.collections[event.collection].id_field
        return {id_field: record[id_field]}

    def send(self, headers: dict[str, str], payload: bytes) -> int | str:
        """The status the connector answered, or what went wrong instead (a crash, a hang)."""
        try:
            return self.connector.handle_webhook(headers, payload)
        except ConnectorTimeout as exc:
            return f"hung ({exc})"
        except ConnectorFailed as exc:
            return f"crashed ({_reason(exc)})"

    def close(self) -> None:
        self.connector.close()


# -- WH-01 ----------------------------------------------------------------------------------------


@check("WH-01", pillar="webhooks", severity="critical", level="basic", timeout=60)
def signed_events_are_applied(ctx: CheckContext) -> None:
    """Accepts correctly signed webhook deliveries with a 2xx and applies them to its store.

    For every event type the manifest declares, the harness delivers a correctly signed event
    (Standard Webhooks) about a real record of the tenant: a created or updated event must leave
    exactly that record in the replica, a deleted event must remove it. A connector that refuses
    authentic deliveries makes the platform retry them and finally drop them; one that answers
    2xx without applying them loses changes silently.
    """
    events = declared_events(ctx)
    tenant = ctx.tenant(sizes_for(events, 5), purpose="events")
    wh = Delivery(ctx, tenant)
    problems: list[str] = []
    try:
        for collection in _collections(events):
            col = ctx.contract.collections[collection]
            by_action = {e.action: e for e in events if e.collection == collection}
            record = tenant.create(collection) if "created" in by_action else tenant.records(collection)[0]
            record_id = record[col.id_field]
            for action in ACTIONS:
                event = by_action.get(action)
                if event is None:
                    continue
                if action == "updated":
                    donor = next(r for r in tenant.records(collection) if r[col.id_field] != record_id)
                    record = tenant.update(collection, record_id, _changes(ctx, collection, record, donor))
                elif action == "deleted":
                    if record_id not in wh.replica.rows.get(collection, {}):
                        wh.replica.upsert(collection, record)  # as if an earlier sync had stored it
                    tenant.remove(collection, record_id)
                payload = wh.payload(event, wh.data(event, record))
                status = wh.send(sign(wh.secret, payload), payload)
                problem = _applied(wh.replica, event, ctx.expected(collection, record), record_id, status)
                if problem:
                    problems.append(f"{event.type} about {record_id}: {problem}")
    finally:
        wh.close()
    if problems:
        raise ctx.fail(
            f"did not accept and apply {len(problems)} correctly signed deliveries: " + "; ".join(problems),
            expected="a 2xx for each authentic delivery; created/updated store the record, deleted drops it",
            events=[e.type for e in events],
        )


def _applied(
    replica: Replica, event: Event, record: dict[str, Any], record_id: Any, status: int | str
) -> str:
    if isinstance(status, str):
        return status
    if not 200 <= status < 300:
        return f"answered {status}"
    rows = replica.rows.get(event.collection, {})
    if not event.upserts:
        return f"answered {status} but the record is still in the replica" if record_id in rows else ""
    if record_id not in rows:
        return f"answered {status} but the record is not in the replica"
    stored = {k: rows[record_id].get(k) for k in record}  # what it keeps beyond that is DATA-01's business
    if stored != record:
        fields = sorted(k for k in record if stored.get(k) != record.get(k))
        return f"answered {status} but the replica holds other values for {', '.join(fields)}"
    return ""


# -- WH-02 ----------------------------------------------------------------------------------------


@check("WH-02", pillar="webhooks", severity="critical", level="basic", timeout=60)
def bad_deliveries_are_refused(ctx: CheckContext) -> None:
    """Refuses forged, unsigned and stale webhook deliveries with a 4xx and no side effect.

    The harness delivers events with a signature that does not match, a signature made with
    another secret, a timestamp an hour old or an hour ahead, and each of the three Standard
    Webhooks headers missing. Each must be refused with a 4xx (so the platform does not retry
    it) and must leave the replica untouched: anyone who can reach the endpoint could otherwise
    write into the customer's data, or replay a captured delivery later.
    """
    events = declared_events(ctx)
    event = next((e for e in events if e.upserts), events[0])
    tenant = ctx.tenant(sizes_for(events, len(TAMPERING) + 1), purpose="tampered")
    wh = Delivery(ctx, tenant)
    col = ctx.contract.collections[event.collection]
    records = tenant.records(event.collection)
    if not event.upserts:
        for record in records:  # a deleted event has something to delete
            wh.replica.upsert(event.collection, record)
    accepted: list[str] = []
    try:
        for (kind, what), record in zip(TAMPERING.items(), records, strict=False):
            before = len(wh.replica.operations)
            payload = wh.payload(event, wh.data(event, record))
            status = wh.send(tamper(kind, wh.secret, payload), payload)
            touched = len(wh.replica.operations) != before
            effect = (
                f", and {'stored' if event.upserts else 'deleted'} {record[col.id_field]}" if touched else ""
            )
            if isinstance(status, str):
                accepted.append(f"{what} ({kind}): {status}{effect}")
            elif not 400 <= status < 500 or touched:
                accepted.append(f"{what} ({kind}): answered {status}{effect}")
    finally:
        wh.close()
    if accepted:
        raise ctx.fail(
            f"accepted {len(accepted)} of {len(TAMPERING)} {event.type} deliveries it must refuse: "
            + "; ".join(accepted),
            expected="a 4xx and no change to the replica for a bad signature, a wrong secret, a timestamp "
            "outside the tolerance, or a missing webhook-id/webhook-timestamp/webhook-signature header",
        )


# -- WH-03 ----------------------------------------------------------------------------------------


@check("WH-03", pillar="webhooks", severity="high", level="standard", timeout=60)
def duplicates_are_applied_once(ctx: CheckContext) -> None:
    """Applies a delivery once, however often the platform sends it (same `webhook-id`).

    The platform retries a delivery until it gets a 2xx, so a receiver sees duplicates: the same
    message with the same `webhook-id`. The harness delivers an event, the same message again,
    then a later event about the same record (deleted after created, for example) and finally
    the first message once more. Each duplicate must be answered without a side effect (2xx or
    4xx): the record is written once, and an old duplicate must not bring back a deleted record.
    """
    events = declared_events(ctx)
    first = next((e for e in events if e.upserts), events[0])
    later = next((e for e in events if e.collection == first.collection and e.action == "deleted"), None)
    if later is first:
        later = None
    tenant = ctx.tenant(sizes_for(events, 5), purpose="duplicates")
    wh = Delivery(ctx, tenant)
    col = ctx.contract.collections[first.collection]
    record = (
        tenant.create(first.collection) if first.action == "created" else tenant.records(first.collection)[0]
    )
    record_id = record[col.id_field]
    if not first.upserts:
        wh.replica.upsert(first.collection, record)
    problems: list[str] = []
    try:
        payload = wh.payload(first, wh.data(first, record))
        original = sign(wh.secret, payload)
        status = wh.send(original, payload)
        if isinstance(status, str) or not 200 <= status < 300:
            shown = status if isinstance(status, str) else f"answered {status}"
            raise ctx.fail(
                f"refused a correctly signed {first.type} delivery ({shown}); duplicates could not be tested",
                expected="a 2xx for an authentic delivery, then no side effect for its duplicates",
            )
        steps = [("the same message again", original, payload)]
        if later is not None:
            tenant.remove(first.collection, record_id)
            later_payload = wh.payload(later, wh.data(later, record))
            status = wh.send(sign(wh.secret, later_payload), later_payload)
            if isinstance(status, str) or not 200 <= status < 300:
                problems.append(
                    f"{later.type}: {status if isinstance(status, str) else f'answered {status}'}"
                )
            steps.append((f"the first message again after {later.type}", original, payload))
        for label, headers, body in steps:
            before = _ops(wh.replica, first.collection, record_id)
            status = wh.send(tamper("replay", wh.secret, body, previous=headers), body)
            applied = _ops(wh.replica, first.collection, record_id)[len(before) :]
            if isinstance(status, str) or not 200 <= status < 500:
                problems.append(f"{label}: {status if isinstance(status, str) else f'answered {status}'}")
            if applied:
                problems.append(
                    f"{label} (webhook-id {headers['webhook-id']}): applied it again "
                    f"({', '.join(applied)} {record_id})"
                )
    finally:
        wh.close()
    if later is not None and record_id in wh.replica.rows.get(first.collection, {}):
        problems.append(f"{record_id} was deleted on the platform but is back in the replica")
    if problems:
        raise ctx.fail(
            f"did not apply duplicate deliveries once: {'; '.join(problems)}",
            expected="a duplicate webhook-id answered 2xx (or 4xx) with no change to the replica",
            operations=_ops(wh.replica, first.collection, record_id),
            expected_operations=["upsert" if first.upserts else "delete", *(["delete"] if later else [])],
        )


def _ops(replica: Replica, stream: str, record_id: Any) -> list[str]:
    return [op.kind for op in list(replica.operations) if op.stream == stream and op.id == record_id]


# -- WH-04 ----------------------------------------------------------------------------------------


# -- shared ---------------------------------------------------------------------------------------


def declared_events(ctx: CheckContext) -> list[Event]:
    """The declared event types the harness can craft: `<thing>.<created|updated|deleted>`."""
    if not ctx.manifest.webhooks:
        raise NotApplicable("the manifest declares no webhooks")
    by_singular = {singular(name): name for name in ctx.contract.collections}
    operations = {op.path: op for op in ctx.contract.webhooks if op.method == "POST"}
    events = []
    for name in ctx.manifest.webhooks:
        thing, _, action = name.rpartition(".")
        collection = by_singular.get(thing)
        if collection is None or action not in ACTIONS:
            continue
        op = operations.get(name)
        events.append(Event(name, collection, action, op.body_media.get("application/json") if op else None))
    if not events:
        raise NotApplicable(
            f"none of the declared webhooks ({', '.join(ctx.manifest.webhooks)}) is a created, updated or "
            "deleted event of a collection of the contract"
        )
    return events


def _collections(events: list[Event]) -> list[str]:
    return list(dict.fromkeys(e.collection for e in events))


def sizes_for(events: list[Event], n: int) -> dict[str, int]:
    return {c: n for c in _collections(events)}


def _changes(
    ctx: CheckContext, collection: str, record: dict[str, Any], donor: dict[str, Any]
) -> dict[str, Any]:
    """A real update: up to two fields take another record's (schema-valid) values."""
    col = ctx.contract.collections[collection]
    keep = {col.id_field, col.updated_field, "created_at", "created"}
    declared = ctx.manifest.fields.get(collection) or ()
    names = sorted(
        (k for k in donor if k not in keep and donor[k] != record.get(k)), key=lambda k: k not in declared
    )
    return {k: donor[k] for k in names[:2]}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(exc: ConnectorFailed) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
