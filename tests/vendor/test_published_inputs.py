"""Inputs of the vendors' published specs that the sandbox reads as the spec says: query
styles (Stripe's deepObject `expand[]`/`created[gt]`, Apideck's `filter[...]`), records scoped
by their parent (Meraki's networks), form field names (Twilio's `FriendlyName`)."""

from __future__ import annotations

import pytest

from harness.contract import load, validate_request
from tests.published import published


@pytest.mark.parametrize(
    "name, path, query",
    [
        (
            "stripe",
            "/v1/customers",
            {"expand[]": ["data.default_source"], "created[gt]": ["5"], "limit": ["3"]},
        ),
        ("stripe", "/v1/customers", {"expand[0]": ["data.default_source"], "created": ["5"]}),
        ("apideck-crm", "/crm/companies", {"filter[name]": ["x"], "sort[by]": ["created_at"]}),
    ],
    ids=["stripe-brackets", "stripe-indexed", "apideck-deep-object"],
)
def test_deep_object_query_parameters_are_read_not_refused(name, path, query):
    contract = load(published(name))
    _, found = validate_request(contract, "GET", path, query)
    assert [v.pointer for v in found if v.pointer.startswith("/query")] == []


def test_a_deep_object_value_of_the_wrong_type_is_refused_by_its_parameter():
    contract = load(published("stripe"))
    _, wrong = validate_request(contract, "GET", "/v1/customers", {"created[gt]": ["soon"]})
    assert [v.pointer for v in wrong] == ["/query/created"]
