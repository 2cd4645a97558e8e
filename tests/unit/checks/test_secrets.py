"""SEC-01 and SEC-02 judged from recorded evidence; SEC-01's deliveries carry nothing that names the check."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from harness.checks.secrets import (
    _deliver_webhooks,
    _webhook_secret,
    judge_no_egress,
    judge_no_leaks,
    request_urls,
    token_shape,
)
from harness.contract import load
from harness.contract.events import event_body, event_schema
from harness.contract.signing import signing_for
from tests.unit.checks.evidence import log, request

SECRET = "Q3vB8kLm2ZpX7rTy9WnF4hJd"
WEBHOOK = _webhook_secret(5)
SECRETS = {
    "the client secret": SECRET,
    "the webhook secret": WEBHOOK,
    "the webhook signing key": WEBHOOK.removeprefix("whsec_"),
}
TOKEN = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f"  # 43 letters and digits, as the sandbox issues
SHAPE = token_shape("Zz9" * 14 + "Q")  # another token of the platform's: the same shape


def test_outputs_free_of_secrets_pass():
    outputs = [
        ("log #1 ('info' 'synced')", '{"message": "synced 30 records"}'),
        ("checkpoint #1", '{"c": 1}'),
    ]
    assert judge_no_leaks(outputs, SECRETS, SHAPE) is None


def test_a_client_secret_in_a_log_is_named_masked_with_where():
    finding = judge_no_leaks([("log #2 ('debug' 'auth')", f"secret={SECRET}")], SECRETS, SHAPE)
    assert finding is not None
    assert "leaked the client secret (Q3vB****) in 1 place(s), e.g. log #2" in finding.message
    assert SECRET not in finding.message
    assert finding.details["places"] == {"the client secret": ["log #2 ('debug' 'auth')"]}


def test_the_webhook_secret_is_named_once_not_also_as_its_signing_key():
    finding = judge_no_leaks([("stderr line 1", WEBHOOK)], SECRETS, SHAPE)
    assert finding is not None
    assert "leaked the webhook secret" in finding.message and "signing key" not in finding.message
    key_only = judge_no_leaks([("stderr line 1", WEBHOOK.removeprefix("whsec_"))], SECRETS, SHAPE)
    assert key_only is not None and "leaked the webhook signing key" in key_only.message


def test_an_access_token_is_recognised_by_the_shape_of_the_platforms_tokens():
    assert SHAPE is not None and SHAPE.search(f"Bearer {TOKEN}") and not SHAPE.search(TOKEN + "x")
    finding = judge_no_leaks([("the error of sync(None)", f"401 for Bearer {TOKEN}")], SECRETS, SHAPE)
    assert finding is not None
    assert "leaked an access token (recognized by the shape of the platform's tokens)" in finding.message


def test_token_shapes_keep_a_prefix_and_refuse_short_or_odd_tokens():
    prefixed = token_shape("at_" + "x" * 30)
    assert prefixed is not None and prefixed.search("at_" + "y" * 30) and not prefixed.search("y" * 33)
    assert (
        token_shape("short") is None and token_shape("has space " * 3) is None and token_shape(None) is None
    )


def test_text_the_platform_served_is_not_taken_for_a_token():
    # fairness: a 43-character cursor or record value (base64url of a SHA-256, say) has the
    # tokens' shape; one the platform served, or the connector sent back unmasked, is no token
    cursor = "Yx" * 21 + "Q"
    outputs = [
        ("checkpoint #1", f'{{"cursor": "{cursor}"}}'),
        ("stored record contacts/c1", f'{{"h": "{cursor}"}}'),
    ]
    assert judge_no_leaks(outputs, SECRETS, SHAPE, served=[cursor]) is None
    assert judge_no_leaks(outputs, SECRETS, SHAPE) is not None
    mixed = judge_no_leaks([("log #1", f"{cursor} {TOKEN}")], SECRETS, SHAPE, served=[cursor])
    assert mixed is not None and "an access token" in mixed.message


def test_request_urls_are_outputs_as_the_sandbox_logged_them():
    urls = request_urls(log(request(4, query={"api_key": [SECRET]})))
    assert urls == [("the URL of request #4 (GET /contacts)", f"/contacts?api_key={SECRET}")]
    finding = judge_no_leaks(urls, SECRETS, SHAPE)
    assert finding is not None and "e.g. the URL of request #4" in finding.message


def test_deliveries_carry_standard_webhooks_ids_that_name_no_check():
    seen: list[dict[str, str]] = []
    ctx = SimpleNamespace(
        manifest=SimpleNamespace(webhooks=["contact.created"], streams=["contacts"]),
        seed_for=lambda _: 11,
        contract=load("contracts/platform.openapi.yaml"),  # the event body takes its shape
    )
    tenant = SimpleNamespace(records=lambda stream: [])
    connector = SimpleNamespace(handle_webhook=lambda headers, body: seen.append(dict(headers)) or body)
    errors: list = []
    _deliver_webhooks(ctx, tenant, connector, WEBHOOK, errors)  # type: ignore[arg-type]
    ids = [h["webhook-id"] for h in seen]
    assert len(ids) == 2 and len(set(ids)) == 2 and errors == []
    assert all(re.fullmatch(r"msg_[0-9a-f]{24}", i) for i in ids)
    assert not any("sec01" in str(h).lower() for h in seen)


@pytest.mark.parametrize(
    ("contract", "event", "secret_shape"),
    [
        ("tests/contracts/github_like.openapi.yaml", "issue.created", r"[0-9a-f]{40}"),
        ("tests/contracts/stripe_like.openapi.yaml", "customer.created", r"whsec_[0-9a-f]{32}"),
    ],
)
def test_deliveries_are_signed_with_the_contracts_scheme(contract: str, event: str, secret_shape: str):
    seen: list[tuple[dict[str, str], bytes]] = []
    loaded = load(contract)
    [signing] = {signing_for(loaded, event)}
    secret = _webhook_secret(11, [signing])
    assert re.fullmatch(secret_shape, secret) and secret == _webhook_secret(11, [signing])  # seeded
    ctx = SimpleNamespace(
        manifest=SimpleNamespace(webhooks=[event], streams=[]), seed_for=lambda _: 11, contract=loaded
    )
    connector = SimpleNamespace(handle_webhook=lambda h, body: seen.append((dict(h), body)) or 204)
    errors: list = []
    _deliver_webhooks(ctx, SimpleNamespace(), connector, secret, errors)  # type: ignore[arg-type]
    (valid, body), (forged, _) = seen
    assert errors == [] and signing.header in valid and "webhook-signature" not in valid
    assert signing.verify(secret, body, valid) is None  # the valid one verifies with the scheme
    assert signing.verify(secret, body, forged) == f"{signing.header} does not match the body"
    shape = event_body(loaded, event_schema(loaded, event), event, {"id": "x"})
    assert json.loads(body).keys() == shape.keys()  # the contract's event shape (Stripe's: id, object, ...)


def test_no_egress_passes_and_refused_connections_are_named_by_host():
    assert judge_no_egress([], [], "http://127.0.0.1:9") is None
    egress = [{"host": "telemetry.example.com", "port": 443}, {"host": "telemetry.example.com", "port": 443}]
    finding = judge_no_egress(egress, ["sync(None): boom"], "http://127.0.0.1:9")
    assert finding is not None
    assert "made 2 connection attempt(s) to host(s) other than the platform: telemetry.example.com" in (
        finding.message
    )
    assert finding.expected == "connections only to the platform (http://127.0.0.1:9)"
    assert finding.details["run_errors"] == ["sync(None): boom"]
