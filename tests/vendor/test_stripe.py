"""stripe-python (StripeClient) against the sandbox serving Stripe's published spec."""

from __future__ import annotations

import pytest

stripe = pytest.importorskip("stripe")

VENDOR = "stripe"


def _client(tenant, key: str | None = None):
    return stripe.StripeClient(
        key or tenant.client_secret, base_addresses={"api": tenant.base_url}, max_network_retries=0
    )


@pytest.fixture
def customer(tenant):
    return _client(tenant).customers.create(params={"email": "ada@example.com", "name": "Ada"})


def test_create(customer):
    assert customer.id and customer.email == "ada@example.com"


def test_read_back(tenant, customer):
    assert _client(tenant).customers.retrieve(customer.id).email == "ada@example.com"


def test_update(tenant, customer):
    client = _client(tenant)
    client.customers.update(customer.id, params={"name": "Grace"})
    assert client.customers.retrieve(customer.id).name == "Grace"


def test_delete_then_read_after_delete(tenant, customer):
    client = _client(tenant)
    assert client.customers.delete(customer.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.customers.retrieve(customer.id)
    assert refused.value.http_status == 404


def test_paging(tenant):
    client = _client(tenant)
    made = {client.customers.create(params={"email": f"p{i}@example.com"}).id for i in range(5)}
    seen = [c.id for c in client.customers.list(params={"limit": 2}).auto_paging_iter()]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_wrong_credential(tenant):
    with pytest.raises(stripe.AuthenticationError):
        _client(tenant, "sk_test_wrong").customers.list()
