"""stripe-python, as an integrator's code uses it (module-level `stripe.api_base`), against the
sandbox serving tests/contracts/stripe_like.openapi.yaml: form bodies with `metadata[k]`,
auto-paging over `starting_after`/`has_more`, retrieve, update by POST, delete, the events list."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness.runtime
from harness.contract import load

stripe = pytest.importorskip("stripe")

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "stripe_like.openapi.yaml"


@pytest.fixture(scope="module")
def tenant():
    with harness.runtime.embedded(load(CONTRACT)) as sandbox:
        yield sandbox.new_tenant(seed=7, rate_limit=(10_000.0, 10_000))


@pytest.fixture
def sdk(tenant, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", tenant.client_secret)
    monkeypatch.setattr(stripe, "api_base", tenant.base_url.rstrip("/"))
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    return stripe


def test_create_with_metadata_and_retrieve(sdk):
    made = sdk.Customer.create(email="ada@example.com", name="Ada", metadata={"plan": "pro", "n": "1"})
    assert made.id and made.object == "customer"
    got = sdk.Customer.retrieve(made.id)
    assert (got.email, got.name, dict(got.metadata)) == ("ada@example.com", "Ada", {"plan": "pro", "n": "1"})


def test_update_by_post(sdk):
    made = sdk.Customer.create(email="grace@example.com")
    sdk.Customer.modify(made.id, name="Grace", metadata={"tier": "gold"})
    got = sdk.Customer.retrieve(made.id)
    assert got.name == "Grace" and got.metadata["tier"] == "gold"


def test_delete_then_retrieve_is_404(sdk):
    made = sdk.Product.create(name="Widget")
    gone = sdk.Product.delete(made.id)
    assert gone.deleted is True and gone.id == made.id
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.Product.retrieve(made.id)
    assert refused.value.http_status == 404


def test_auto_paging_lists_every_record_once(sdk):
    made = {sdk.Customer.create(email=f"p{i}@example.com").id for i in range(7)}
    seen = [c.id for c in sdk.Customer.list(limit=3).auto_paging_iter()]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_expand_returns_the_named_record(sdk):
    customer = sdk.Customer.create(email="inv@example.com")
    invoice = sdk.Invoice.create(customer=customer.id, description="first")
    assert sdk.Invoice.retrieve(invoice.id).customer == customer.id
    got = sdk.Invoice.retrieve(invoice.id, expand=["customer"])
    assert got.customer.id == customer.id and got.customer.email == "inv@example.com"


def test_events_list_with_created_filter_and_type(sdk):
    made = sdk.Customer.create(email="evt@example.com")
    events = list(sdk.Event.list(type="customer.created", created={"gte": 0}, limit=100).auto_paging_iter())
    assert events and all(e.type == "customer.created" for e in events)
    assert made.id in {e.data.object["id"] for e in events}


def test_wrong_key_is_authentication_error(sdk):
    with pytest.raises(stripe.AuthenticationError):
        sdk.Customer.list(api_key="sk_test_wrong")


def test_events_page_by_starting_after_and_filter_by_created(sdk):
    for i in range(3):
        sdk.Customer.create(email=f"feed{i}@example.com")
    paged = [e.id for e in sdk.Event.list(limit=2).auto_paging_iter()]
    whole = [e.id for e in sdk.Event.list(limit=100).data]
    assert paged == whole and len(paged) == len(set(paged)) >= 3
    assert sdk.Event.list(created={"gt": 4_102_444_800}).data == []  # after 2100: none yet
