"""Webhook checks: deliveries are verified, applied once, and bad ones refused without side effects.

How deliveries are made (the contract's signing scheme, its payload shape, a secret per
connector) is in deliveries.py; the schemes and their tamperings in harness.core.signing;
WH-04 (fuzzing the endpoint) is in webhook_fuzz.py.
"""

from __future__ import annotations

from typing import Any

from harness.checks.context import CheckContext
from harness.checks.deliveries import (
    ACTIONS,
    Delivery,
    Event,
    collections,
    declared_events,
    non_ascii_text,
    sizes_for,
)
from harness.checks.failures import Finding
from harness.checks.registry import check
from harness.checks.scenario import Delivered, Scenario
from harness.core.signing import STANDARD

__all__ = ["Delivery", "Event", "declared_events", "sizes_for"]
TAMPERING = {kind: STANDARD.tampering_text(kind) for kind in STANDARD.tamperings}  # the default's


# -- WH-01 ----------------------------------------------------------------------------------------


@check("WH-01", pillar="webhooks", severity="critical", level="basic", timeout=60, requires=("webhooks",))
def signed_events_are_applied(ctx: CheckContext) -> None:
    """Accepts correctly signed webhook deliveries with a 2xx and applies them to its store.

    For every event type the manifest declares, the harness delivers a correctly signed event
    (with the contract's signing scheme: Standard Webhooks, an HMAC header such as GitHub's
    X-Hub-Signature-256, Stripe-like `t=...,v1=...` or Slack-like base strings) about a real
    record of the tenant, its body serialized compact, spaced or indented in turn, keys in the
    schema's order or shuffled, its text with non-ASCII characters sent as UTF-8: a created or
    updated event must leave exactly that record in the replica, a deleted event must remove it.
    A connector that refuses authentic deliveries makes the platform retry them and finally
    drop them (one that checks the signature over re-serialized JSON, or over text it decoded
    and re-encoded, rather than the bytes received does); one that answers 2xx without applying
    them loses changes silently.
    """
    events = declared_events(ctx)
    with Scenario(ctx, ctx.tenant(sizes_for(events, 5), purpose="events")) as scenario:
        delivered = [
            d for collection in collections(events) for d in _each_action(scenario, events, collection)
        ]
    ctx.require(judge_applied(delivered, events))


def _each_action(scenario: Scenario, events: list[Event], collection: str) -> list[Delivered]:
    """One record taken through the declared events of its collection: created, updated, deleted."""
    tenant, col = scenario.tenant, scenario.ctx.contract.collections[collection]
    by_action = {e.action: e for e in events if e.collection == collection}
    contract = scenario.ctx.contract
    if "created" in by_action:
        record = tenant.create(collection, non_ascii_text(contract, collection, {}))
    else:
        record = tenant.records(collection)[0]
    record_id = record[col.id_field]
    out = []
    for event in (by_action[a] for a in ACTIONS if a in by_action):
        if event.action == "updated":
            donor = next(r for r in tenant.records(collection) if r[col.id_field] != record_id)
            changes = _changes(scenario.ctx, collection, record, donor)
            changes.update(non_ascii_text(contract, collection, {**record, **changes}))
            record = tenant.update(collection, record_id, changes)
        elif event.action == "deleted":
            if record_id not in scenario.replica.rows.get(collection, {}):
                scenario.store(collection, record)
            tenant.remove(collection, record_id)
        out.append(scenario.deliver(event, record))
    return out


def judge_applied(delivered: list[Delivered], events: list[Event]) -> Finding | None:
    """Each correctly signed delivery got a 2xx and left the replica as the event says."""
    problems = [f"{d.event.type} about {d.record_id}: {p}" for d in delivered if (p := applied_problem(d))]
    if not problems:
        return None
    schemes = ", ".join(dict.fromkeys(e.signing.name for e in events))
    return Finding.of(
        f"did not accept and apply {len(problems)} correctly signed deliveries ({schemes}): "
        + "; ".join(problems),
        expected="a 2xx for each authentic delivery, its signature checked over the body bytes as "
        "received; created/updated store the record, deleted drops it",
        events=[e.type for e in events],
    )


def applied_problem(d: Delivered) -> str:
    """What is wrong with one authentic delivery's outcome; "" when it was accepted and applied."""
    if not d.accepted:  # a refusal says what was special about the body it refused
        return f"{d.outcome} (its body {body_traits(d.payload)})" if isinstance(d.status, int) else d.outcome
    if not d.event.upserts:
        return f"answered {d.status} but the record is still in the replica" if d.row is not None else ""
    if d.row is None:
        return f"answered {d.status} but the record is not in the replica"
    stored = {k: d.row.get(k) for k in d.record}  # what it keeps beyond that is DATA-01's business
    if stored != d.record:
        fields = sorted(k for k in d.record if stored.get(k) != d.record.get(k))
        return f"answered {d.status} but the replica holds other values for {', '.join(fields)}"
    return ""


def body_traits(payload: bytes) -> str:
    """How a body was serialized, for a message: `indented, with non-ASCII text as UTF-8`."""
    text = payload.decode("utf-8", "replace")
    layout = "indented" if "\n" in text else "spaced" if '": ' in text else "compact"
    return layout + (", with non-ASCII text as UTF-8" if not text.isascii() else "")


# -- WH-02 ----------------------------------------------------------------------------------------


@check("WH-02", pillar="webhooks", severity="critical", level="basic", timeout=60, requires=("webhooks",))
def bad_deliveries_are_refused(ctx: CheckContext) -> None:
    """Refuses forged, unsigned and stale webhook deliveries with a 4xx and no side effect.

    The harness delivers events, signed with the contract's scheme, with a signature that does
    not match, a signature made with another secret, a body changed after signing, where the
    scheme has a timestamp one an hour old or an hour ahead (the receiver's tolerance is minutes),
    and each header the scheme signs with missing (Standard Webhooks: webhook-id,
    webhook-timestamp, webhook-signature). Each must be refused with a 4xx (so the platform does not retry
    it) and must leave the replica untouched: anyone who can reach the endpoint could otherwise
    write into the customer's data, or replay a captured delivery later.
    """
    events = declared_events(ctx)
    event = next((e for e in events if e.upserts), events[0])
    kinds = event.signing.tamperings
    with Scenario(ctx, ctx.tenant(sizes_for(events, len(kinds) + 1), purpose="tampered")) as scenario:
        records = scenario.tenant.records(event.collection)
        if not event.upserts:
            for record in records:  # a deleted event has something to delete
                scenario.store(event.collection, record)
        refused = {
            kind: scenario.deliver(event, record, tampering=kind)
            for kind, record in zip(kinds, records, strict=False)
        }
    ctx.require(judge_refused(event, refused))


def judge_refused(event: Event, delivered: dict[str, Delivered]) -> Finding | None:
    """Each tampered delivery (tampering kind -> what came of it) got a 4xx and changed nothing."""
    signing = event.signing
    accepted = []
    for kind, d in delivered.items():
        effect = f", and {'stored' if event.upserts else 'deleted'} {d.record_id}" if d.applied else ""
        if isinstance(d.status, str) or not 400 <= d.status < 500 or d.applied:
            accepted.append(f"{signing.tampering_text(kind)} ({kind}): {d.outcome}{effect}")
    if not accepted:
        return None
    timestamp = (
        f", a timestamp outside the tolerance ({signing.timestamp_place})" if signing.has_timestamp else ""
    )
    return Finding.of(
        f"accepted {len(accepted)} of {len(delivered)} {event.type} deliveries it must refuse, signed "
        f"{signing.name}: " + "; ".join(accepted),
        expected=f"a 4xx and no change to the replica for a bad signature in {signing.header}, a wrong "
        f"secret, a body changed after signing{timestamp}, or a missing {signing.headers_text()} header",
        scheme=signing.scheme,
    )


# -- WH-03 ----------------------------------------------------------------------------------------


@check("WH-03", pillar="webhooks", severity="high", level="standard", timeout=60, requires=("webhooks",))
def duplicates_are_applied_once(ctx: CheckContext) -> None:
    """Applies a delivery once, however often the platform sends it (same delivery id).

    The platform retries a delivery until it gets a 2xx, so a receiver sees duplicates: the same
    message with the same delivery id (Standard Webhooks' `webhook-id`, or the header the
    contract's scheme names, e.g. GitHub's X-GitHub-Delivery; where the scheme has none, the very
    same body and signature). The harness delivers an event and, where the contract
    has one, a later event about the same record (deleted after created, for example), then the
    first message again, twice. Each duplicate must be answered without a side effect (2xx or
    4xx): the record is written once, and an old duplicate must not bring back a deleted record.
    """
    events = declared_events(ctx)
    first = next((e for e in events if e.upserts), events[0])
    later = next((e for e in events if e.collection == first.collection and e.action == "deleted"), None)
    later = None if later is first else later
    with Scenario(ctx, ctx.tenant(sizes_for(events, 5), purpose="duplicates")) as scenario:
        tenant = scenario.tenant
        record = (
            tenant.create(first.collection)
            if first.action == "created"
            else tenant.records(first.collection)[0]
        )
        if not first.upserts:
            scenario.store(first.collection, record)
        original = scenario.deliver(first, record)
        ctx.require(judge_first_accepted(original))
        labels = ["the same message again"]
        later_delivered = None
        if later is not None:
            tenant.remove(first.collection, original.record_id)
            later_delivered = scenario.deliver(later, record)
            labels.append(f"the first message again after {later.type}")
        duplicates = [(label, scenario.deliver(first, record, previous=original)) for label in labels]
        kept = original.record_id in scenario.replica.rows.get(first.collection, {})
        operations = _ops(scenario, first.collection, original.record_id)
    ctx.require(judge_applied_once(original, duplicates, later_delivered, kept, operations))


def _ops(scenario: Scenario, stream: str, record_id: Any) -> list[str]:
    return [op.kind for op in list(scenario.replica.operations) if op.stream == stream and op.id == record_id]


def judge_first_accepted(original: Delivered) -> Finding | None:
    """Duplicates can be judged only once the first, authentic delivery was accepted."""
    if original.accepted:
        return None
    return Finding.of(
        f"refused a correctly signed {original.event.type} delivery ({original.outcome}); "
        "duplicates could not be tested",
        expected="a 2xx for an authentic delivery, then no side effect for its duplicates",
    )


def judge_applied_once(
    original: Delivered,
    duplicates: list[tuple[str, Delivered]],
    later: Delivered | None,
    kept: bool,
    operations: list[str],
) -> Finding | None:
    """Each duplicate (label, what came of it) is answered 2xx/4xx without touching the record,
    and a record the later event deleted is not back (`kept`: it is in the replica at the end)."""
    problems = []
    if later is not None and not later.accepted:
        problems.append(f"{later.event.type}: {later.outcome}")
    for label, d in duplicates:
        if isinstance(d.status, str) or not 200 <= d.status < 500:
            problems.append(f"{label}: {d.outcome}")
        applied = d.on_record()
        if applied:
            problems.append(f"{label} ({_same(d)}): applied it again ({', '.join(applied)} {d.record_id})")
    if later is not None and kept:
        problems.append(f"{original.record_id} was deleted on the platform but is back in the replica")
    if not problems:
        return None
    first = original.event
    return Finding.of(
        f"did not apply duplicate deliveries once: {'; '.join(problems)}",
        expected=f"a duplicate {_dedup_by(first)} answered 2xx (or 4xx) with no change to the replica",
        operations=operations,
        expected_operations=["upsert" if first.upserts else "delete", *(["delete"] if later else [])],
    )


def _same(d: Delivered) -> str:
    """`webhook-id msg_1`: what made the duplicate the same message."""
    signing = d.event.signing
    found = signing.delivery_id(d.headers)
    return f"{signing.id_header} {found}" if found else f"the same body and {signing.header}"


def _dedup_by(event: Event) -> str:
    signing = event.signing
    return signing.id_header or f"delivery (same body and {signing.header}; the scheme has no id header)"


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
