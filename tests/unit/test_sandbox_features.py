"""Sandbox features beyond the happy path: rate limits, Idempotency-Key, scripted faults, webhooks,
the audit log, revocation, clock and churn, and bad input. Driven over loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from harness.core import new_secret, sign, tamper
from harness.sandbox.audit import verify
from harness.sandbox.limits import RateLimiter

PROBLEM = "application/problem+json"
SIZES = {"contacts": 30, "companies": 5, "deals": 5}
parse = datetime.fromisoformat


def new_tenant(sandbox, seed=1, **spec):
    response = sandbox.admin.post("/tenants", json={"seed": seed, "sizes": SIZES, **spec})
    assert response.status_code == 201, response.text
    return SimpleNamespace(**response.json())


def bearer(http, tenant, scope=None):
    form = {"grant_type": "client_credentials", "client_id": tenant.client_id}
    form.update(client_secret=tenant.client_secret, **({"scope": scope} if scope else {}))
    response = http.post(tenant.token_url, data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status
    return response.json()


def new_contact(http, tenant, headers, n=1, **extra):
    body = {"email": f"p{n}@example.com", "first_name": "Pat", "last_name": f"N{n}"}
    return http.post(tenant.base_url + "/v1/contacts", json=body, headers={**headers, **extra})


def control(sandbox, tenant, what, method="GET", **kwargs):
    return sandbox.admin.request(method, f"/tenants/{tenant.id}/{what}", **kwargs)


def data(sandbox, tenant, what):
    """A control listing: "requests" (the request log), "changes", "deliveries"."""
    return control(sandbox, tenant, what).json()["data"]


def at_least(n, fetch, timeout=15.0):
    """Poll fetch() until it returns n or more items (a bounded wait for background work)."""
    deadline = time.monotonic() + timeout
    while len(items := fetch()) < n:
        assert time.monotonic() < deadline, f"timed out waiting for {n} items; have {items}"
        time.sleep(0.05)
    return items


# -- 1. rate limits ------------------------------------------------------------------------------


def test_the_rate_limit_refuses_with_retry_after_and_only_that_client(http, sandbox):
    limited = new_tenant(sandbox, rate_limit={"rate": 1, "burst": 3})
    other = new_tenant(sandbox, rate_limit={"rate": 1, "burst": 3})
    headers, other_headers = bearer(http, limited), bearer(http, other)
    url = limited.base_url + "/v1/contacts"
    assert [http.get(url, headers=headers).status_code for _ in range(3)] == [200] * 3
    refused = http.get(url, headers=headers)
    assert_problem(refused, 429)
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after >= 1
    assert refused.headers["RateLimit"].startswith('"default";r=0;')
    assert refused.headers["RateLimit-Policy"] == '"default";q=3;w=3'
    assert http.get(other.base_url + "/v1/contacts", headers=other_headers).status_code == 200
    time.sleep(retry_after)
    assert http.get(url, headers=headers).status_code == 200


def test_the_token_bucket_refills_at_its_rate_up_to_its_burst():
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.take("a", now=0).remaining for _ in range(3)] == [2, 1, 0]
    refused = limiter.take("a", now=0)
    assert (refused.allowed, refused.retry_after, refused.reset) == (False, 1, 2)
    assert limiter.take("b", now=0).remaining == 2  # buckets are per key
    assert limiter.take("a", now=0.5).allowed  # half a second at 2/s is one token
    assert not limiter.take("a", now=0.5).allowed
    assert limiter.take("a", now=100).remaining == 2  # capped at the burst, not 200 tokens
    slow = RateLimiter(rate=0.25, burst=1)
    assert slow.take("a", now=0).allowed
    assert slow.take("a", now=1).retry_after == 3  # 0.25 tokens; 0.75 more at 0.25/s
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)


# -- 2. Idempotency-Key --------------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_response_and_writes_once(http, sandbox):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    first = new_contact(http, tenant, headers, 1, **{"Idempotency-Key": "k-1"})
    again = new_contact(http, tenant, headers, 1, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(data(sandbox, tenant, "changes")) == 1
    assert_problem(new_contact(http, tenant, headers, 2, **{"Idempotency-Key": "k-1"}), 422)
    other_key = new_contact(http, tenant, headers, 1, **{"Idempotency-Key": "k-2"})
    keyless = [new_contact(http, tenant, headers, 1).json()["id"] for _ in range(2)]
    assert len({first.json()["id"], other_key.json()["id"], *keyless}) == 4
    assert [c["type"] for c in data(sandbox, tenant, "changes")] == ["created"] * 4


# -- 3. faults -----------------------------------------------------------------------------------


def set_faults(sandbox, tenant, *rules):
    return control(sandbox, tenant, "faults", "POST", json={"rules": list(rules)})


def list_contacts(http, tenant, headers):
    return http.get(tenant.base_url + "/v1/contacts", headers=headers)


def test_status_faults_fire_after_and_times_and_a_429_carries_rate_limit_headers(http, sandbox):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    rule = {"kind": "status", "operation": "listContacts", "status": 503, "after": 1, "times": 2}
    assert set_faults(sandbox, tenant, rule).status_code == 200
    responses = [list_contacts(http, tenant, headers) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 503, 503, 200]
    assert_problem(responses[1], 503)
    assert [e["faults"] for e in data(sandbox, tenant, "requests")[-4:]] == [[], ["status"], ["status"], []]
    set_faults(sandbox, tenant, {"kind": "status", "status": 429, "retry_after": 7})
    response = list_contacts(http, tenant, headers)
    assert_problem(response, 429)
    assert response.headers["Retry-After"] == "7"
    assert "RateLimit" in response.headers and "RateLimit-Policy" in response.headers


def test_response_faults_truncate_drop_and_churn(http, sandbox):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    set_faults(sandbox, tenant, {"kind": "truncate", "operation": "listContacts"})
    truncated = list_contacts(http, tenant, headers)
    assert truncated.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.content)
    set_faults(sandbox, tenant, {"kind": "drop", "operation": "listContacts"})
    with httpx.Client(timeout=10) as fresh, pytest.raises(httpx.TransportError):
        list_contacts(fresh, tenant, headers)
    set_faults(sandbox, tenant, {"kind": "churn", "operation": "listContacts", "churn": 3})
    assert data(sandbox, tenant, "changes") == []
    assert list_contacts(http, tenant, headers).status_code == 200
    assert len(data(sandbox, tenant, "changes")) == 3


def test_request_faults_expire_the_token_and_add_latency(http, sandbox):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    set_faults(sandbox, tenant, {"kind": "expire_token"})
    assert_problem(list_contacts(http, tenant, headers), 401)
    assert data(sandbox, tenant, "requests")[-1]["auth"]["error"] == "expired_token"
    headers = bearer(http, tenant)
    set_faults(sandbox, tenant, {"kind": "latency", "latency_ms": 300})
    assert list_contacts(http, tenant, headers).status_code == 200
    assert data(sandbox, tenant, "requests")[-1]["faults"] == ["latency"]


@pytest.mark.parametrize("kind", ["stall", "trickle"])
def test_a_stall_records_whether_the_client_gave_up_or_waited_it_out(http, sandbox, kind):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    set_faults(sandbox, tenant, {"kind": kind, "operation": "listContacts", "latency_ms": 3000})
    url = tenant.base_url + "/v1/contacts"
    with (
        httpx.Client(timeout=0.3) as impatient,
        pytest.raises(httpx.TimeoutException),
        impatient.stream("GET", url, headers=headers) as response,
    ):
        response.read()
    entry = at_least(1, lambda: [e for e in data(sandbox, tenant, "requests") if e["faults"]])[-1]
    # held until the client gave up: its 0.3 s read timeout runs from before the stall began (the
    # request's way in, auth, a store round trip), so a loaded machine shows less; never all 3 s
    assert entry["abandoned"] is True and 0 < entry["held_ms"] < 3000
    set_faults(sandbox, tenant, {"kind": kind, "operation": "listContacts", "latency_ms": 400})
    assert list_contacts(http, tenant, headers).json()["data"]  # waited out: the whole answer
    entry = at_least(2, lambda: [e for e in data(sandbox, tenant, "requests") if e["faults"]])[-1]
    assert entry["abandoned"] is False and entry["held_ms"] >= 390  # the event loop's clock, not ours


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_a_status_fault_can_refuse_with_a_client_error_in_the_contracts_error_shape(http, sandbox, status):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    set_faults(sandbox, tenant, {"kind": "status", "operation": "listContacts", "status": status})
    assert_problem(list_contacts(http, tenant, headers), status)


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"kind": "meteor"}, "meteor"),
        ({"kind": "status", "colour": "red"}, "colour"),
        ({"kind": "status", "status": 418}, "status"),
        ({"kind": "status", "probability": 2}, "probability"),
    ],
)
def test_invalid_fault_rules_are_refused_by_name(sandbox, rule, named):
    tenant = new_tenant(sandbox)
    assert named in assert_problem(set_faults(sandbox, tenant, rule), 422)["detail"]
    assert control(sandbox, tenant, "faults").json()["rules"] == []


def test_the_same_seed_and_requests_fire_the_same_faults_and_delete_clears_them(http, sandbox):
    rule = {"kind": "status", "operation": "listContacts", "probability": 0.5, "times": None}
    runs = []
    for tenant in (new_tenant(sandbox, seed=42), new_tenant(sandbox, seed=42)):
        headers = bearer(http, tenant)
        set_faults(sandbox, tenant, rule)
        runs.append([list_contacts(http, tenant, headers).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert {200, 503} == set(runs[0])
    assert control(sandbox, tenant, "faults", "DELETE").status_code == 204
    assert control(sandbox, tenant, "faults").json()["rules"] == []
    assert all(list_contacts(http, tenant, headers).status_code == 200 for _ in range(10))


# -- 4. webhooks ---------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """Answers the status its path names (/ok -> 204, /500, /400) and keeps what it got."""

    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204 if self.path == "/ok" else int(self.path[1:]))
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def subscribe(sandbox, tenant, url, types):
    response = control(sandbox, tenant, "webhooks", "POST", json={"url": url, "types": types})
    assert response.status_code == 201, response.text
    return response.json()


def test_subscribed_changes_are_delivered_signed_and_contract_true(
    http, sandbox, receiver, platform_contract
):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    Receiver.received.clear()
    sub = subscribe(sandbox, tenant, receiver + "/ok", ["contact.created", "contact.deleted"])
    created = new_contact(http, tenant, headers).json()
    url = f"{tenant.base_url}/v1/contacts/{created['id']}"
    assert http.patch(url, json={"first_name": "Sam"}, headers=headers).status_code == 200
    assert http.delete(url, headers=headers).status_code == 204
    got = at_least(2, lambda: [r for r in Receiver.received if r[0] == "/ok"])
    payloads = [Webhook(sub["secret"]).verify(body, hdrs) for _, hdrs, body in got]
    assert sorted(p["type"] for p in payloads) == ["contact.created", "contact.deleted"]
    schemas = {w.path: w.body_media["application/json"] for w in platform_contract.webhooks}
    for payload in payloads:
        assert payload.keys() == {"type", "timestamp", "data"}
        assert payload["data"]["id"] == created["id"]
        errors = list(platform_contract.validator(schemas[payload["type"]]).iter_errors(payload))
        assert errors == [], errors
    deliveries = at_least(2, lambda: data(sandbox, tenant, "deliveries"))
    assert len(deliveries) == 2  # contact.updated was not subscribed
    assert all(d["subscription"] == sub["id"] and d["status"] == 204 for d in deliveries)


def test_a_failing_receiver_is_retried_and_a_refusing_one_is_not(http, sandbox, receiver):
    tenant = new_tenant(sandbox)
    failing = subscribe(sandbox, tenant, receiver + "/500", ["contact.created"])
    refusing = subscribe(sandbox, tenant, receiver + "/400", ["contact.created"])
    new_contact(http, tenant, bearer(http, tenant))

    def attempts(sub):
        return [d for d in data(sandbox, tenant, "deliveries") if d["subscription"] == sub]

    retried = at_least(3, lambda: attempts(failing["id"]))
    assert [d["attempt"] for d in retried[:3]] == [1, 2, 3]
    assert {d["status"] for d in retried} == {500}
    assert len({d["message"] for d in retried}) == 1  # a retry is the same message
    assert [(d["attempt"], d["status"]) for d in attempts(refusing["id"])] == [(1, 400)]


def test_signed_deliveries_verify_and_tampered_ones_do_not():
    secret, payload = new_secret(), b'{"type":"contact.created"}'
    signed = sign(secret, payload)
    assert Webhook(secret).verify(payload, signed) == {"type": "contact.created"}
    assert tamper("replay", secret, payload, previous=signed) == signed
    kinds = ["bad_signature", "wrong_secret", "stale_timestamp", "future_timestamp"]
    for kind in [*kinds, "missing_id", "missing_timestamp", "missing_signature"]:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(payload, tamper(kind, secret, payload))


# -- 5. audit log --------------------------------------------------------------------------------

AUDITED = ["client.created", "token.issued", "record.created", "record.deleted"]
AUDITED += ["faults.set", "faults.cleared", "credentials.revoked"]


def test_the_audit_log_is_an_intact_chain_and_verify_finds_tampering(http, sandbox):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    created = new_contact(http, tenant, headers).json()
    http.delete(f"{tenant.base_url}/v1/contacts/{created['id']}", headers=headers)
    set_faults(sandbox, tenant, {"kind": "latency"})
    control(sandbox, tenant, "faults", "DELETE")
    control(sandbox, tenant, "revoke", "POST", json={})
    audit = control(sandbox, tenant, "audit").json()
    assert audit["problems"] == []
    entries = audit["data"]
    assert [e["action"] for e in entries] == AUDITED
    assert audit["head"] == {"seq": len(entries), "hash": entries[-1]["hash"]}
    assert [e["by"] for e in entries if e["action"].startswith("record.")] == ["api", "api"]
    # without the sandbox's key nobody can recompute the chain: any key but its own finds every entry
    assert len(verify(entries, b"not the sandbox key")) == len(entries)


# -- 6. revocation -------------------------------------------------------------------------------


def test_revoking_tokens_and_clients(http, sandbox):
    tenant = new_tenant(sandbox)
    headers = bearer(http, tenant)
    assert control(sandbox, tenant, "revoke", "POST", json={}).json() == {"revoked_tokens": 1}
    assert_problem(list_contacts(http, tenant, headers), 401)
    assert data(sandbox, tenant, "requests")[-1]["auth"]["error"] == "revoked_token"
    bearer(http, tenant)  # the client itself may still get a new token
    assert control(sandbox, tenant, "revoke", "POST", json={"client_id": tenant.client_id}).status_code == 200
    form = {"grant_type": "client_credentials", "client_id": tenant.client_id}
    refused = http.post(tenant.token_url, data={**form, "client_secret": tenant.client_secret})
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert_problem(control(sandbox, tenant, "revoke", "POST", json={"client_id": "cli_nobody"}), 404)


# -- 7. clock and churn --------------------------------------------------------------------------


def test_advancing_the_clock_dates_later_records_after_it(http, sandbox):
    tenant = new_tenant(sandbox)
    before = parse(tenant.clock)
    moved = control(sandbox, tenant, "clock", "POST", json={"advance": 3600}).json()
    assert parse(moved["clock"]) == before + timedelta(hours=1)
    assert parse(sandbox.admin.get(f"/tenants/{tenant.id}").json()["clock"]) == before + timedelta(hours=1)
    record = new_contact(http, tenant, bearer(http, tenant)).json()
    assert parse(record["created_at"]) > before + timedelta(hours=1)


def test_churn_shows_in_the_event_feed_in_order(http, sandbox, platform_contract):
    tenant = new_tenant(sandbox)
    made = control(sandbox, tenant, "churn", "POST", json={"n": 5, "seed": 1}).json()["data"]
    assert len(made) == 5
    headers = bearer(http, tenant, scope="events:read")
    feed = http.get(tenant.base_url + "/v1/events", params={"limit": 50}, headers=headers)
    assert feed.status_code == 200, feed.text
    events = feed.json()["data"]
    singular = {"contacts": "contact", "companies": "company", "deals": "deal"}
    assert [(e["sequence"], e["object_id"]) for e in events] == [(c["seq"], c["id"]) for c in made]
    assert [e["type"] for e in events] == [f"{singular[c['collection']]}.{c['type']}" for c in made]
    event_schema = platform_contract.validator(platform_contract.uri + "#/components/schemas/Event")
    for event in events:
        assert list(event_schema.iter_errors(event)) == []


# -- 8. bad input --------------------------------------------------------------------------------

JSON = "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"email": "a@b.co", ', JSON, 400),
        (b'{"email": "\xff\xfe", "first_name": "a", "last_name": "b"}', JSON, 400),
        (b'{"email": "a@b.co", "first_name": "a", "last_name": "b"}', "text/plain", 400),
        (b"x" * ((1 << 20) + 1), JSON, 413),
    ],
    ids=["malformed-json", "invalid-utf8", "wrong-content-type", "over-1-mib"],
)
def test_bad_bodies_are_problems_not_crashes(http, sandbox, body, content_type, status):
    tenant = new_tenant(sandbox)
    response = http.post(
        tenant.base_url + "/v1/contacts",
        content=body,
        headers={**bearer(http, tenant), "content-type": content_type},
    )
    assert_problem(response, status)
    assert "Traceback" not in response.text


def test_an_unknown_tenant_and_a_malformed_token_form_are_clean_errors(http, sandbox):
    tenant = new_tenant(sandbox)
    unknown = http.get(sandbox.base_url + "/t/ten_nobody/v1/contacts")
    assert_problem(unknown, 404)
    form = http.post(
        tenant.token_url,
        content=b"\xff\xfe=%%&&grant_type",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 400
    assert form.json()["error"] == "invalid_request"
    assert "Traceback" not in unknown.text + form.text
