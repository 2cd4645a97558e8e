"""Event bodies in the contract's own shape (the default where it fits, Stripe's event elsewhere),
for the sandbox's deliveries and the checks' alike, and the plainest value a schema allows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from harness.contract import load
from harness.contract.events import deleted_data, event_body
from harness.contract.plain import plainest
from harness.contract.schema import validator_for


def _schema(contract, name: str) -> str:
    return next(w for w in contract.webhooks if w.path == name).body_media["application/json"]


def test_the_default_shape_where_the_contract_takes_it() -> None:
    contract = load("contracts/platform.openapi.yaml")
    uri = _schema(contract, "contact.created")
    record = {"id": "con_1", "email": "a@example.com"}
    body = event_body(contract, uri, "contact.created", {"id": "con_1"})
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "contact.created"
    assert event_body(contract, None, "contact.created", record)["data"] == record


def test_a_stripe_event_carries_the_record_in_data_object_with_an_id_of_its_own() -> None:
    contract = load("tests/contracts/stripe_like.openapi.yaml")
    uri = _schema(contract, "customer.created")
    record = {"id": "cus_1", "object": "customer", "created": 1, "livemode": False}
    first = event_body(contract, uri, "customer.created", record)
    second = event_body(contract, uri, "customer.created", record)
    assert first["data"]["object"] == record and first["type"] == "customer.created"
    assert isinstance(first["created"], int) and first["id"] != second["id"]
    assert validator_for(contract, uri).is_valid(first), list(
        validator_for(contract, uri).iter_errors(first)
    )[:1]


def test_plainest_keeps_to_const_enum_minimum_min_length_and_nested_required() -> None:
    schema = {
        "type": "object",
        "required": ["object", "kind", "count", "code", "at", "tags", "inner", "maybe"],
        "properties": {
            "object": {"const": "list"},
            "kind": {"enum": ["b", "a"]},
            "count": {"type": "integer", "minimum": 1},
            "code": {"type": "string", "minLength": 3},
            "at": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "minItems": 1, "items": {"type": "boolean"}},
            "inner": {"type": "object", "required": ["n"], "properties": {"n": {"type": "number"}}},
            "maybe": {"type": ["string", "null"]},
            "optional": {"type": "string"},
        },
    }
    value = plainest(None, schema)
    assert {k: v for k, v in value.items() if k != "at"} == {
        "object": "list",
        "kind": "b",
        "count": 1,
        "code": "xxx",
        "tags": [False],
        "inner": {"n": 0},
        "maybe": None,
    }
    assert Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(value)


def test_plainest_follows_refs_in_the_contract() -> None:
    contract = load("tests/contracts/stripe_like.openapi.yaml")
    col = contract.collections["customers"]
    record = plainest(contract, col.item_schema, col.item_schema_uri)
    assert record["object"] == "customer" and set(col.item_schema["required"]) <= set(record)


CON = "con_" + "A" * 16


def test_a_deleted_event_carries_the_id_alone_where_the_schema_takes_it() -> None:
    contract = load("contracts/platform.openapi.yaml")
    uri = _schema(contract, "contact.deleted")
    assert deleted_data(contract, "contacts", uri, "contact.deleted", CON) == {"id": CON}
    assert deleted_data(contract, "contacts", None, "contact.deleted", CON) == {"id": CON}


def test_an_event_happened_at_its_time() -> None:
    contract = load("tests/contracts/stripe_like.openapi.yaml")
    uri = _schema(contract, "customer.created")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert event_body(contract, uri, "customer.created", {"id": "cus_1"}, when)["created"] == int(
        when.timestamp()
    )
    platform = load("contracts/platform.openapi.yaml")
    body = event_body(platform, _schema(platform, "contact.created"), "contact.created", {}, when)
    assert body["timestamp"] == "2026-01-02T03:04:05Z"


def test_a_deleted_event_whose_schema_wants_the_record_gets_it_or_a_tombstone(tmp_path) -> None:
    text = Path("contracts/platform.openapi.yaml").read_text()
    head, _, tail = text.partition("    ContactDeletedWebhookEvent:\n")
    found = re.search(r"\n    [A-Za-z]", tail)  # the next schema after the deleted event's, if any
    rest = tail[found.start() :] if found else ""
    whole = (
        "    ContactDeletedWebhookEvent:\n      type: object\n      required: [type, timestamp, data]\n"
        "      properties:\n        type: {type: string}\n        timestamp: {type: string}\n"
        '        data: {$ref: "#/components/schemas/Contact"}\n'
    )
    changed = tmp_path / "platform.openapi.yaml"
    changed.write_text(head + whole + rest)
    contract = load(changed)
    uri = _schema(contract, "contact.deleted")
    last = {"id": CON, "email": "a@example.com"}
    assert deleted_data(contract, "contacts", uri, "contact.deleted", CON, last) == last
    tombstone = deleted_data(contract, "contacts", uri, "contact.deleted", CON)
    assert tombstone["id"] == CON and len(tombstone) > 1
    body = event_body(contract, uri, "contact.deleted", tombstone)
    assert validator_for(contract, uri).is_valid(body), list(validator_for(contract, uri).iter_errors(body))[
        :1
    ]
