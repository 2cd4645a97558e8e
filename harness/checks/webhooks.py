"""Webhook checks: deliveries are verified, applied once, and bad ones refused without side effects.

Deliveries are crafted the way the platform signs them (Standard Webhooks: `webhook-id`,
`webhook-timestamp`, `webhook-signature`) with the payload shape of the contract's `webhooks`
section, carrying real records of a fresh tenant. Every connector gets its own webhook secret in
its config (`webhook_secret`).
"""

from __future__ import annotations

import copy
import itertools
import json
import time
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
FUZZ_EXAMPLES = 30  # random cases, after at most COVERAGE_EXAMPLES deterministic ones
COVERAGE_EXAMPLES = 30


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
    events = _events(ctx)
    tenant = ctx.tenant(_sizes(events, 5), purpose="events")
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
    events = _events(ctx)
    event = next((e for e in events if e.upserts), events[0])
    tenant = ctx.tenant(_sizes(events, len(TAMPERING) + 1), purpose="tampered")
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
    events = _events(ctx)
    first = next((e for e in events if e.upserts), events[0])
    later = next((e for e in events if e.collection == first.collection and e.action == "deleted"), None)
    if later is first:
        later = None
    tenant = ctx.tenant(_sizes(events, 5), purpose="duplicates")
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


@check("WH-04", pillar="webhooks", severity="high", level="strict", timeout=180)
def webhook_endpoint_survives_fuzzing(ctx: CheckContext) -> None:
    """Survives a schemathesis fuzz of its webhook endpoint: no 5xx, no crash.

    schemathesis generates deliveries from the contract's `webhooks` section: valid events of
    every declared type with unusual but allowed values, and invalid ones (wrong types, missing
    fields, unknown event types, bodies that are not JSON) - first the edge cases of its coverage
    phase, then random ones. All edge cases and three in four random ones are correctly signed,
    so they reach the connector's parsing and not just its signature check; the others keep the
    headers schemathesis generated, to test the header handling. Every delivery must be answered
    with a 2xx or a 4xx: a crash or a 5xx makes the platform retry a poisoned message, and an
    endpoint that falls over can be taken down by anyone who can reach it.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    events = _events(ctx)
    path = ctx.manifest.webhook_path
    schema = schemathesis.openapi.from_dict(_webhook_openapi(ctx, events, path), config=schemathesis.Config())
    operation = schema[path]["POST"]
    # Signed deliveries: the generated headers are replaced by real ones, so schemathesis mutates
    # only the body in negative mode. Unsigned ones keep what it generated for the headers too.
    placeholders = {"webhook-id": "msg_0", "webhook-timestamp": "0", "webhook-signature": "v1,0"}
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=placeholders)
    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, headers=placeholders)
    generated = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    cases = st.one_of(
        positive.map(lambda case: (case, False)),
        negative.map(lambda case: (case, False)),
        negative.map(lambda case: (case, False)),
        generated.map(lambda case: (case, True)),
    )
    tenant = ctx.tenant(_sizes(events, 1), purpose="fuzz")
    wh = Delivery(ctx, tenant)
    ids = itertools.count(1)
    tag = f"{ctx.seed_for('ids'):08x}"
    sent: list[int] = []

    class Crash(AssertionError):
        pass

    @_with_examples(_coverage_cases(schema, operation))
    @seed(ctx.seed_for("fuzz"))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        database=None,
        deadline=None,
        derandomize=False,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=cases)
    def fuzz(drawn: tuple[Any, bool]) -> None:
        case, unsigned = drawn
        from hypothesis import reject

        body = case.body
        if isinstance(body, bytes | bytearray):
            payload = bytes(body)
        elif body is None or type(body).__name__ == "NotSet":
            payload = b""
        else:
            try:
                payload = json.dumps(body, allow_nan=False).encode()
            except (TypeError, ValueError):
                reject()
        if unsigned:
            headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
            how = "a delivery with generated (unsigned) headers"
        else:
            headers = sign(wh.secret, payload, msg_id=f"msg_{tag}x{next(ids)}")
            how = "a correctly signed delivery"
        headers["content-type"] = case.media_type or "application/json"
        if any(not _latin1(k) or not _latin1(v) for k, v in headers.items()):
            reject()
        sent.append(1)
        outcome = sender(headers, payload)
        if outcome:
            shown = payload[:300].decode("utf-8", "replace") + ("..." if len(payload) > 300 else "")
            what = _description(case)
            raise Crash(f"{outcome} on {how} whose body was {shown!r}{f' ({what})' if what else ''}")

    sender = _sender(wh)
    started = time.monotonic()
    try:
        fuzz()
    except Crash as crash:
        raise ctx.fail(
            f"{crash}; delivery {len(sent)} of the fuzz over {', '.join(e.type for e in events)}",
            expected="a 2xx or 4xx for every delivery, however odd: never a 5xx, a crash or a hang",
            seconds=round(time.monotonic() - started, 1),
        ) from None
    finally:
        wh.close()


def _coverage_cases(schema: Any, operation: Any) -> list[Any]:
    """The first few body cases of schemathesis' coverage phase, in its order: a body of each wrong
    JSON type, each required property missing, an event type outside the enum, and so on. These
    deterministic edge cases come before the random ones (empty when this schemathesis has no
    coverage generator)."""
    try:
        from schemathesis import GenerationMode
        from schemathesis.core.parameters import ParameterLocation
        from schemathesis.generation.drivers import CoverageGenerator
        from schemathesis.generation.feedback import FeedbackSources
        from schemathesis.generation.overrides import Override

        generator = CoverageGenerator(
            operation=operation,
            generation_modes=[GenerationMode.NEGATIVE],
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
            auth_storage=None,
            override=Override(),
            feedback=FeedbackSources(),
        )
        body = [c for c in generator if c.meta is not None and c.meta.is_negative_at(ParameterLocation.BODY)]
    except (ImportError, TypeError, AttributeError):  # another schemathesis 4.x: random cases only
        return []
    return body[:COVERAGE_EXAMPLES]


def _with_examples(cases: list[Any]) -> Any:
    """Attach coverage cases as hypothesis explicit examples, signed, to run in their order."""
    from hypothesis import example

    def attach(test: Any) -> Any:
        for case in reversed(cases):  # hypothesis runs explicit examples in reverse order of attachment
            test = example(drawn=(case, False))(test)
        return test

    return attach


def _description(case: Any) -> str:
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    text = getattr(data, "description", "")
    return f"schemathesis coverage case: {text}" if isinstance(text, str) and text else ""


def _webhook_openapi(ctx: CheckContext, events: list[Event], path: str) -> dict[str, Any]:
    """An OpenAPI document whose only operation is the connector's webhook endpoint.

    Each declared webhook of the contract is a POST on the manifest's webhook path; as they all
    share it, their bodies are combined with `oneOf` and their header parameters merged.
    """
    doc = ctx.contract.document
    declared = {e.type for e in events}
    parameters: dict[tuple[str, str], Any] = {}
    bodies: list[Any] = []
    for name, item in (doc.get("webhooks") or {}).items():
        if name not in declared:
            continue
        item, _ = ctx.contract.deref(item, ctx.contract.at("webhooks", name))
        post = item.get("post") or {}
        for raw in [*(item.get("parameters") or []), *(post.get("parameters") or [])]:
            param, _ = ctx.contract.deref(raw, ctx.contract.uri)
            parameters[(param.get("in"), str(param.get("name")).lower())] = copy.deepcopy(raw)
        request_body, _ = ctx.contract.deref(post.get("requestBody") or {}, ctx.contract.uri)
        schema = (request_body.get("content") or {}).get("application/json", {}).get("schema")
        if schema is not None and schema not in bodies:
            bodies.append(copy.deepcopy(schema))
    body_schema = bodies[0] if len(bodies) == 1 else {"oneOf": bodies}
    return {
        "openapi": doc.get("openapi", "3.1.0"),
        "info": {"title": f"{ctx.manifest.name} webhooks", "version": ctx.manifest.version},
        "paths": {
            path: {
                "post": {
                    "operationId": "deliverWebhook",
                    "parameters": list(parameters.values()),
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": body_schema}},
                    },
                    "responses": {"2XX": {"description": "Accepted."}, "4XX": {"description": "Refused."}},
                }
            }
        },
        "components": copy.deepcopy(doc.get("components") or {}),
    }


def _sender(wh: Delivery) -> Any:
    """Deliveries through the driver: "" when answered below 500, else what went wrong."""

    def deliver(headers: dict[str, str], payload: bytes) -> str:
        outcome = wh.send(headers, payload)
        if isinstance(outcome, str):
            return outcome
        if outcome >= 500:
            stderr = wh.connector.diagnostics().stderr
            return f"answered {outcome}" + (f" (stderr: {stderr[-1]})" if stderr else "")
        return ""

    return deliver


# -- shared ---------------------------------------------------------------------------------------


def _events(ctx: CheckContext) -> list[Event]:
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


def _sizes(events: list[Event], n: int) -> dict[str, int]:
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


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in text and "\n" not in text
