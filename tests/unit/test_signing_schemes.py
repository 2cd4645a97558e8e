"""Every signing scheme round-trips, matches an independent implementation, and every tampering
is refused; the contract's `x-sandbox: {signing}` hint parses, and a bad one names its fix."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from harness.contract import ContractError, load
from harness.contract.signing import signing_for, signing_problems
from harness.core.signing import STANDARD, Signing, changed_body

GITHUB = Signing("hmac", "X-Hub-Signature-256", "hex", "sha256=", "sha256", None, "", "X-GitHub-Delivery")
GITHUB_SHA1 = Signing("hmac", "X-Hub-Signature", "hex", "sha1=", "sha1", None, "", None)
SHOPIFY = Signing("hmac", "X-Shopify-Hmac-Sha256", "base64", "", "sha256", None, "", None)
STRIPE = Signing("timestamped", "Stripe-Signature", "hex", "", "sha256", None, "", None)
SLACK = Signing(
    "base-string",
    "X-Slack-Signature",
    "hex",
    "v0=",
    "sha256",
    "X-Slack-Request-Timestamp",
    "v0:{timestamp}:{body}",
    None,
)
SCHEMES = [STANDARD, GITHUB, GITHUB_SHA1, SHOPIFY, STRIPE, SLACK]
BODY = b'{"type":"issue.created","timestamp":"2026-01-01T00:00:00Z","data":{"id":7,"title":"Hi"}}'


@pytest.mark.parametrize("signing", SCHEMES, ids=lambda s: s.name)
def test_each_scheme_verifies_what_it_signs_and_refuses_every_tampering(signing: Signing) -> None:
    secret = signing.new_secret()
    assert signing.secret_problem(secret) is None
    assert signing.verify(secret, BODY, signing.sign(secret, BODY)) is None
    for kind in signing.tamperings:
        headers, body = signing.tamper(kind, secret, BODY)
        assert signing.verify(secret, body, headers) is not None, kind
    replayed = signing.sign(secret, BODY)
    assert signing.tamper("replay", secret, BODY, previous=replayed) == (replayed, BODY)


def test_timestamps_and_ids_only_where_the_scheme_has_them() -> None:
    assert "stale_timestamp" not in GITHUB.tamperings and "missing_id" not in GITHUB.tamperings
    assert {"stale_timestamp", "future_timestamp", "missing_timestamp"} <= set(STRIPE.tamperings)
    assert "missing_id" in STANDARD.tamperings and "body_changed" in SLACK.tamperings
    assert set(GITHUB.sign("s", BODY)) == {"X-GitHub-Delivery", "X-Hub-Signature-256"}
    assert set(SHOPIFY.sign("s", BODY)) == {"X-Shopify-Hmac-Sha256"}
    headers = GITHUB.sign("s", BODY, msg_id="d-1")
    assert GITHUB.delivery_id({k.lower(): v for k, v in headers.items()}) == "d-1"
    assert SHOPIFY.delivery_id(headers) is None


def test_standard_webhooks_matches_the_standardwebhooks_package() -> None:
    secret = STANDARD.new_secret()
    headers = STANDARD.sign(secret, BODY)
    assert Webhook(secret).verify(BODY, headers) is not None  # raises on a bad signature
    library = Webhook(secret).sign(headers["webhook-id"], _when(headers["webhook-timestamp"]), BODY.decode())
    assert headers["webhook-signature"] == library


def _when(stamp: str):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(stamp), tz=UTC)


def test_hmac_schemes_match_hashlib_by_hand() -> None:
    secret = "It's a Secret to Everybody"  # GitHub's documented example secret and payload
    github = GITHUB.sign(secret, b"Hello, World!")
    assert github["X-Hub-Signature-256"] == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    by_hand = base64.b64encode(hmac.new(b"shpss", BODY, hashlib.sha256).digest()).decode()
    assert SHOPIFY.sign("shpss", BODY)["X-Shopify-Hmac-Sha256"] == by_hand
    sha1 = "sha1=" + hmac.new(b"k", BODY, hashlib.sha1).hexdigest()
    assert GITHUB_SHA1.sign("k", BODY)["X-Hub-Signature"] == sha1


def test_stripe_and_slack_match_hashlib_by_hand() -> None:
    stamp = 1_700_000_000
    v1 = hmac.new(b"whsec_test", f"{stamp}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert STRIPE.sign("whsec_test", BODY, timestamp=stamp) == {"Stripe-Signature": f"t={stamp},v1={v1}"}
    slack = SLACK.sign("8f742231b10e8888abcd99yyyzzz85a5", BODY, timestamp=stamp)
    base = f"v0:{stamp}:".encode() + BODY
    expected = "v0=" + hmac.new(b"8f742231b10e8888abcd99yyyzzz85a5", base, hashlib.sha256).hexdigest()
    assert slack == {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": expected}
    assert SLACK.verify("8f742231b10e8888abcd99yyyzzz85a5", BODY, slack, now=stamp + 10) is None
    assert "tolerance" in str(SLACK.verify("8f742231b10e8888abcd99yyyzzz85a5", BODY, slack, now=time.time()))


def test_a_changed_body_still_parses_but_differs() -> None:
    changed = changed_body(BODY)
    assert changed != BODY and b"(forged)" in changed
    assert changed_body(b"\xff") == b"\xff "


# -- the contract's hint ------------------------------------------------------------------------


def _contract(tmp_path: Path, root: str = "", op: str = "") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"
        + root
        + "webhooks:\n  issue.created:\n    post:\n"
        + op
        + "      responses: {'200': {description: ok}}\n"
    )
    return path


def test_the_hint_at_the_root_and_on_an_operation(tmp_path: Path) -> None:
    plain = load(_contract(tmp_path))
    assert signing_for(plain, "issue.created") == STANDARD
    root = (
        "x-sandbox:\n  signing: {scheme: hmac, header: X-Hub-Signature-256, prefix: 'sha256=', "
        "id_header: X-GitHub-Delivery}\n"
    )
    github = load(_contract(tmp_path, root))
    assert signing_for(github, "issue.created") == GITHUB
    override = "      x-sandbox: {signing: {encoding: base64, prefix: '', id_header: ''}}\n"
    merged = signing_for(load(_contract(tmp_path, root, override)), "issue.created")
    assert (merged.scheme, merged.encoding, merged.prefix, merged.id_header) == ("hmac", "base64", "", None)
    slack = "      x-sandbox: {signing: {scheme: base-string, header: X-Slack-Signature, timestamp_header: X-Slack-Request-Timestamp, base: 'v0:{timestamp}:{body}', prefix: 'v0='}}\n"  # noqa: E501
    assert signing_for(load(_contract(tmp_path, root, slack)), "issue.created") == SLACK


@pytest.mark.parametrize(
    ("hint", "pointer", "words"),
    [
        ("{scheme: hmca}", "/x-sandbox/signing/scheme", "unknown signing scheme 'hmca'"),
        ("{scheme: hmac}", "/x-sandbox/signing", "hmac signing needs `header`"),
        ("{scheme: hmac, header: X-Sig, encoding: hexa}", "/x-sandbox/signing/encoding", "unknown encoding"),
        ("{scheme: hmac, header: 'X Sig'}", "/x-sandbox/signing/header", "is not an HTTP header name"),
        ("{header: X-Sig}", "/x-sandbox/signing", "standard-webhooks signing has no 'header'"),
        (
            "{scheme: base-string, header: X-S, timestamp_header: X-T, base: 'v0:{timestamp}'}",
            "/x-sandbox/signing/base",
            "does not contain {body}",
        ),
        ("hmac", "/x-sandbox/signing", "signing is a str, not a mapping"),
    ],
)
def test_a_bad_hint_is_a_contract_error_with_its_pointer_and_fix(
    tmp_path: Path, hint: str, pointer: str, words: str
) -> None:
    with pytest.raises(ContractError) as raised:
        load(_contract(tmp_path, f"x-sandbox:\n  signing: {hint}\n"))
    problem = raised.value.problems[0]
    assert (problem.pointer, words in problem.message, bool(problem.fix)) == (pointer, True, True)


def test_a_bad_hint_on_an_operation_names_the_operation(tmp_path: Path) -> None:
    doc = load(_contract(tmp_path), check=False).document
    doc["webhooks"]["issue.created"]["post"]["x-sandbox"] = {"signing": {"scheme": "timestamped"}}
    [problem] = signing_problems(doc)
    assert problem.pointer == "/webhooks/issue.created/post/x-sandbox/signing"
    assert "Stripe-Signature" in problem.fix


# -- the sandbox signs with the contract's scheme ------------------------------------------------


class _Now:
    """An executor that runs the delivery at once, so the test sees it."""

    def submit(self, fn, *args):
        fn(*args)


def test_the_sandbox_signs_deliveries_with_the_contracts_scheme() -> None:
    from datetime import UTC, datetime

    from harness.contract import load
    from harness.sandbox.events import EventShapes
    from harness.sandbox.webhooks import Dispatcher
    from harness.synth.overlay import Change
    from tests.conftest import ROOT

    contract = load(ROOT / "tests" / "contracts" / "github_like.openapi.yaml")
    shapes = EventShapes(contract)
    assert shapes.signing("issue.created") == GITHUB
    received: list[tuple[dict[str, str], bytes]] = []
    dispatcher = Dispatcher(
        _Now(),  # type: ignore[arg-type]
        shapes.event_type,
        shapes.webhook_payload,
        signing=shapes.signing,
    )
    sub = dispatcher.subscribe(["issue.created"], target=lambda h, b: received.append((h, b)) or 204)
    assert not sub.secret.startswith("whsec_")  # a plain string, as GitHub hands it out
    record = {"id": 5, "number": 1, "title": "t"}
    dispatcher.on_change(Change(1, datetime.now(UTC), "created", "issues", 1, record))
    [(headers, body)] = received
    assert set(headers) == {"X-GitHub-Delivery", "X-Hub-Signature-256"}
    assert GITHUB.verify(sub.secret, body, headers) is None
    assert dispatcher.log()[0]["message"] == headers["X-GitHub-Delivery"]
    assert dispatcher.secret_problem(["issue.created"], "") == "the secret is empty"
