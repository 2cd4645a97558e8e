"""The sandbox's own webhook deliveries (subscriptions made through the control API) carry the
contract's event shape and are signed with the contract's scheme, as the webhook checks' are;
the subscription's secret is in the shape that scheme hands out."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import harness.runtime
from harness.contract import load
from harness.contract.events import event_schema
from harness.contract.schema import validator_for
from harness.contract.signing import signing_for

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
STRIPE = CONTRACTS / "stripe_like.openapi.yaml"
GITHUB = CONTRACTS / "github_like.openapi.yaml"
NAME = "Zoë Ångström 東京"  # non-ASCII text travels as UTF-8, unescaped


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append(({k: v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def new_store():
    """A fresh store for each sandbox (its stop closes it): in memory here; Redis in the twin
    tests/redis/test_sandbox_deliveries_on_redis.py."""
    return lambda: None


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def _wait(n: int, timeout: float = 15.0) -> list[tuple[dict[str, str], bytes]]:
    deadline = time.monotonic() + timeout
    while len(Receiver.received) < n:
        assert time.monotonic() < deadline, f"timed out waiting for {n} deliveries: {Receiver.received}"
        time.sleep(0.05)
    return list(Receiver.received)


def test_stripe_deliveries_are_stripe_events_signed_with_stripe_signature(receiver, new_store):
    contract = load(STRIPE)
    signing = signing_for(contract, "customer.created")
    Receiver.received.clear()
    with harness.runtime.embedded(contract, store=new_store()) as sandbox:
        tenant = sandbox.new_tenant(seed=3, rate_limit=(10_000.0, 10_000))
        made = sandbox.admin.post(
            f"/tenants/{tenant.id}/webhooks",
            json={"url": receiver, "types": ["customer.created", "customer.deleted"]},
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert re.fullmatch(r"whsec_[0-9a-f]{32}", secret)  # as Stripe hands them out
        headers = {"Authorization": f"Bearer {tenant.client_secret}"}
        with httpx.Client(base_url=tenant.base_url.rstrip("/"), headers=headers) as http:
            customer = http.post("/v1/customers", data={"email": "z@example.com", "name": NAME}).json()
            assert http.delete(f"/v1/customers/{customer['id']}").status_code == 200
        got = _wait(2)
    bodies = {}
    for sent, body in got:
        assert "webhook-signature" not in {k.lower() for k in sent}
        assert signing.verify(secret, body, sent) is None, sent
        event = json.loads(body)
        errors = list(validator_for(contract, event_schema(contract, event["type"])).iter_errors(event))
        assert errors == [], errors[0].message
        bodies[event["type"]] = (event, body)
    created, raw = bodies["customer.created"]
    assert created["object"] == "event" and created["id"].startswith("evt_")
    assert isinstance(created["created"], int)
    assert created["data"]["object"]["id"] == customer["id"]
    assert created["data"]["object"]["name"] == NAME and NAME.encode() in raw
    deleted, _ = bodies["customer.deleted"]
    assert deleted["data"]["object"]["id"] == customer["id"] and deleted["id"] != created["id"]


@pytest.mark.parametrize(
    ("contract", "secret", "status"),
    [
        (GITHUB, "a-plain-github-secret", 201),  # hmac: the key as the vendor hands it out
        (GITHUB, "whsec_not-base64!", 201),  # a plain key there too
        (GITHUB, "short", 422),
        (GITHUB, "has a space", 422),
        (None, "a-plain-github-secret", 422),  # the default: Standard Webhooks' whsec_<base64>
        (None, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 201),
    ],
)
def test_the_subscription_secret_takes_the_shape_of_the_contracts_scheme(contract, secret, status, new_store):
    loaded = load(contract or "contracts/platform.openapi.yaml")
    with harness.runtime.embedded(loaded, store=new_store()) as sandbox:
        tenant = sandbox.new_tenant(seed=1)
        made = sandbox.admin.post(
            f"/tenants/{tenant.id}/webhooks", json={"url": "http://127.0.0.1:9/", "secret": secret}
        )
    assert made.status_code == status, made.text
    if status == 422:
        assert "secret" in made.text
    else:
        assert made.json()["secret"] == secret
