"""The connector's webhook endpoint as an OpenAPI document: what WH-04 and `harness fuzz` fuzz."""

from __future__ import annotations

import schemathesis

from harness.contract import default_contract_path, load
from harness.contract.endpoint import webhook_endpoint

CONTRACT = load(default_contract_path())


def test_declared_webhooks_become_one_post_on_the_path() -> None:
    api = webhook_endpoint(
        CONTRACT, ["contact.created", "contact.deleted"], "/hooks", title="t", version="1"
    )
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
