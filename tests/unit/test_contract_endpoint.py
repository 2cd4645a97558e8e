"""The connector's webhook endpoint as an OpenAPI document: what WH-04 and `harness fuzz` fuzz."""

from __future__ import annotations

import itertools

import schemathesis
from jsonschema import Draft202012Validator

from harness.contract import default_contract_path, load
from harness.contract.endpoint import webhook_endpoint

CONTRACT = load(default_contract_path())


def test_declared_webhooks_become_one_post_on_the_path() -> None:
    api = webhook_endpoint(CONTRACT, ["contact.created", "contact.deleted"], "/hooks", title="t", version="1")
    assert api is not None
    post = api["paths"]["/hooks"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["oneOf"]) == 2  # the two events' bodies, either accepted
    assert post["parameters"]  # the webhooks' signature headers are carried over
    operation = schemathesis.openapi.from_dict(api, config=schemathesis.Config())["/hooks"]["POST"]
    assert operation.definition is not None  # a document schemathesis loads


def test_one_event_keeps_its_body_schema_as_it_is() -> None:
    api = webhook_endpoint(CONTRACT, ["contact.updated"], "/hooks", title="t", version="1")
    assert api is not None
    body = api["paths"]["/hooks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "oneOf" not in body


def test_no_described_webhook_gives_none() -> None:
    assert webhook_endpoint(CONTRACT, ["invoice.paid"], "/hooks", title="t", version="1") is None


def test_coverage_cases_each_break_the_body_schema_in_a_fixed_order() -> None:
    from harness.contract.endpoint import coverage_body_cases

    api = webhook_endpoint(CONTRACT, ["contact.created"], "/hooks", title="t", version="1")
    assert api is not None
    schema = schemathesis.openapi.from_dict(api, config=schemathesis.Config())
    operation = schema["/hooks"]["POST"]
    first = [repr(c.body) for c in itertools.islice(coverage_body_cases(operation), 10)]
    again = [repr(c.body) for c in itertools.islice(coverage_body_cases(operation), 10)]
    assert first and first == again  # deterministic edge cases, not random draws
    validator = Draft202012Validator(
        api["paths"]["/hooks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        | {"components": api["components"]}
    )
    assert not any(validator.is_valid(c.body) for c in itertools.islice(coverage_body_cases(operation), 10))


def test_header_safe_means_latin1_on_one_line() -> None:
    from harness.contract.endpoint import header_safe

    assert header_safe("v1,abc=") and header_safe("café")
    assert not header_safe("日本") and not header_safe("a\r\nb") and not header_safe("a\nb")
