"""Event bodies in the contract's own shape: the default where it fits, Stripe's event elsewhere."""

from __future__ import annotations

from harness.contract import load
from harness.contract.events import event_body
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
