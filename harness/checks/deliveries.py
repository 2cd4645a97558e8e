"""Webhook deliveries as the platform makes them: the declared event types, and a connector to receive them.

Deliveries are crafted the way the contract says the platform signs them (`x-sandbox: {signing:
...}`; Standard Webhooks when it says nothing) with the payload shape of the contract's `webhooks`
section, carrying real records of a fresh tenant. Every connector gets its own webhook secret in
its config (`webhook_secret`), in the shape the scheme's vendors hand out. Bodies are serialized
in more than one way, as platforms do: compact, spaced or indented in turn, keys in the
schema's order or shuffled, non-ASCII text as UTF-8 (not escaped). The signature is over the
bytes as sent, so a receiver that verifies a re-serialization, or text it re-encoded, refuses
some authentic deliveries.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any

from harness.checks.context import CheckContext, Driver
from harness.checks.failures import NotApplicable
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.contract import Contract
from harness.contract.events import deleted_data, event_body, event_schema
from harness.contract.schema import schema_type, validator_for
from harness.contract.signing import signing_for
from harness.core import singular
from harness.core.signing import STANDARD, Signing, shared_secret
from harness.runtime import TenantHandle

ACTIONS = ("created", "updated", "deleted")
# json.dumps arguments and whether keys are shuffled, taken in turn: compact in the schema's
# order (Standard Webhooks senders), spaced (Python's default), indented (pretty-printing
# platforms). Always UTF-8 as it is, as GitHub and Stripe send it.
BODY_STYLES: tuple[tuple[dict[str, Any], bool], ...] = (
    ({"separators": (",", ":")}, False),
    ({}, True),
    ({"indent": 2}, True),
)
# Added to one text field of the records WH-01 delivers, so every body has non-ASCII text.
NON_ASCII = "Zoë Ørsted, 東京"


@dataclass(frozen=True)
class Event:
    """One declared event type: which collection it is about and what happened to the record."""

    type: str
    collection: str
    action: str  # created | updated | deleted
    schema_uri: str | None  # the JSON body's schema in the contract
    signing: Signing = field(default=STANDARD)  # how the platform signs its deliveries

    @property
    def upserts(self) -> bool:
        return self.action != "deleted"


class Delivery:
    """A connector bound to a tenant and a replica (a fresh one by default), with its own webhook secret."""

    def __init__(self, ctx: CheckContext, tenant: TenantHandle, replica: Replica | None = None) -> None:
        self.ctx, self.tenant = ctx, tenant
        self.secret = shared_secret(signing_for(ctx.contract, name) for name in ctx.manifest.webhooks)
        self._styles = itertools.cycle(BODY_STYLES)
        self._rng = random.Random(ctx.seed_for("webhook-bodies"))
        self.replica = replica if replica is not None else ctx.replica()
        self.connector: Driver = ctx.connector(tenant, self.replica, webhook_secret=self.secret)

    def payload(self, event: Event, data: dict[str, Any]) -> bytes:
        """The body of one event, checked against the contract (a bad one is the harness's bug)."""
        body = event_body(self.ctx.contract, event.schema_uri, event.type, data)
        if event.schema_uri is not None:
            errors = list(validator_for(self.ctx.contract, event.schema_uri).iter_errors(body))
            if errors:
                raise RuntimeError(
                    f"the harness made a {event.type} payload its contract refuses: {errors[0].message}"
                )
        style, shuffle = next(self._styles)
        body = shuffled(body, self._rng) if shuffle else body
        return json.dumps(body, ensure_ascii=False, **style).encode()

    def sign(self, event: Event, payload: bytes, msg_id: str | None = None) -> dict[str, str]:
        """The headers of a correctly signed delivery of `event`."""
        return event.signing.sign(self.secret, payload, msg_id=msg_id)

    def tamper(self, event: Event, kind: str, payload: bytes) -> tuple[dict[str, str], bytes]:
        """Headers and body of a delivery a receiver must refuse (a kind of `event.signing.tamperings`)."""
        return event.signing.tamper(kind, self.secret, payload)

    def data(self, event: Event, record: dict[str, Any]) -> dict[str, Any]:
        if event.upserts:
            return record
        id_field = self.ctx.contract.collections[event.collection].id_field
        return deleted_data(
            self.ctx.contract, event.collection, event.schema_uri, event.type, record[id_field], record
        )

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


def shuffled(value: Any, rng: random.Random) -> Any:
    """The value with the keys of every object in another order (JSON objects have none)."""
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    if not isinstance(value, dict):
        return value
    keys = list(value)
    rng.shuffle(keys)
    if len(keys) > 1 and keys == list(value):
        keys.reverse()
    return {k: shuffled(value[k], rng) for k in keys}


def non_ascii_text(contract: Contract, collection: str, record: dict[str, Any]) -> dict[str, str]:
    """A change to the first free-text field of the collection's records (a string of no enum,
    pattern or format, room for it under maxLength): its value with non-ASCII text added. Empty
    when the records have no such field."""
    col = contract.collections[collection]
    found = col.item_schema.get("properties")
    skip = {col.id_field, col.updated_field, "created_at", "created"}
    for name, node in (found if isinstance(found, dict) else {}).items():
        prop, _ = contract.deref(node, f"{col.item_schema_uri}/properties/{name}")
        if name in skip or not isinstance(prop, dict) or not schema_type(prop) & {"string"}:
            continue
        if schema_type(prop) - {"string", "null"} or {"enum", "const", "pattern", "format"} & set(prop):
            continue
        current = record.get(name)
        value = f"{current} {NON_ASCII}" if isinstance(current, str) and current else NON_ASCII
        longest, least = prop.get("maxLength"), prop.get("minLength", 0)
        if isinstance(longest, int) and len(value) > longest:
            value = NON_ASCII
        if (isinstance(longest, int) and len(value) > longest) or len(value) < least:
            continue
        return {name: value}
    return {}


def declared_events(ctx: CheckContext) -> list[Event]:
    """The declared event types the harness can craft: `<thing>.<created|updated|deleted>`."""
    if not ctx.manifest.webhooks:
        raise NotApplicable("the manifest declares no webhooks")
    by_singular = {singular(name): name for name in ctx.contract.collections}
    events = []
    for name in ctx.manifest.webhooks:
        thing, _, action = name.rpartition(".")
        collection = by_singular.get(thing)
        if collection is None or action not in ACTIONS:
            continue
        schema = event_schema(ctx.contract, name)
        events.append(Event(name, collection, action, schema, signing_for(ctx.contract, name)))
    if not events:
        raise NotApplicable(
            f"none of the declared webhooks ({', '.join(ctx.manifest.webhooks)}) is a created, updated or "
            "deleted event of a collection of the contract"
        )
    return events


def collections(events: list[Event]) -> list[str]:
    """The collections the events are about, each once, in declaration order."""
    return list(dict.fromkeys(e.collection for e in events))


def sizes_for(events: list[Event], n: int) -> dict[str, int]:
    return {c: n for c in collections(events)}


def _reason(exc: ConnectorFailed) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
