"""The reference connector against a respx mock of the platform."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from acme_sync import AcmeSync, AuthenticationError, PlatformError

BASE = "https://acme.test/t/ten_abc"
TOKEN_URL = "https://acme.test/oauth/token"
SECRET = "s3cret-canary-value"
WEBHOOK_KEY = b"webhook-signing-key-0123456789ab"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()


class RecordingSink:
    def __init__(self) -> None:
        self.upserts: list[tuple[str, dict]] = []
        self.deletes: list[tuple[str, str]] = []
        self.checkpoints: list[dict] = []
        self.logs: list[tuple[str, str, dict]] = []

    def upsert(self, stream, record):
        self.upserts.append((stream, record))

    def delete(self, stream, id):
        self.deletes.append((stream, id))

    def checkpoint(self, state):
        self.checkpoints.append(json.loads(json.dumps(state)))

    def log(self, level, message, **fields):
        self.logs.append((level, message, fields))


def records(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}_{i:016d}", "name": f"{prefix} {i}"} for i in range(n)]


def paged(items: list[dict], marker: str = "c", feed: bool = False):
    """A list endpoint over `items`; cursors are `<marker><offset>`. A feed always returns a position."""

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        start = int(cursor[1:]) if cursor else 0
        end = start + int(request.url.params["limit"])
        more = end < len(items)
        next_cursor = f"{marker}{min(end, len(items))}" if (more or feed) else None
        return httpx.Response(200, json={"data": items[start:end], "next_cursor": next_cursor})

    return handler


def token_response(token: str = "tok_" + "a" * 20, expires_in: int = 3600) -> httpx.Response:
    body = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "x"}
    return httpx.Response(200, json=body)


def empty() -> httpx.Response:
    return httpx.Response(200, json={"data": [], "next_cursor": None})


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_connector(sink, sleeps):
    made = []

    def make(**config) -> AcmeSync:
        cfg = {
            "base_url": BASE,
            "token_url": TOKEN_URL,
            "client_id": "cli_1",
            "client_secret": SECRET,
            "scopes": ["contacts:read", "events:read"],
            "webhook_secret": WEBHOOK_SECRET,
            "page_size": 2,
        }
        connector = AcmeSync({**cfg, **config}, sink)
        connector._sleep = sleeps.append
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def connector(make_connector) -> AcmeSync:
    return make_connector()


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post(TOKEN_URL, name="token").mock(return_value=token_response())
        yield router


def api_calls(api) -> list[httpx.Request]:
    return [call.request for call in api.calls if call.request.url != TOKEN_URL]


# -- sync -----------------------------------------------------------------------------------------


def test_full_sync_upserts_every_record_once_and_checkpoints(api, connector, sink):
    contacts, companies = records("con", 5), records("cmp", 3)
    api.get("/v1/events").mock(side_effect=paged(records("evt", 3), marker="e", feed=True))
    api.get("/v1/contacts").mock(side_effect=paged(contacts))
    api.get("/v1/companies").mock(side_effect=paged(companies))
    api.get("/v1/deals").mock(return_value=httpx.Response(200, json={"data": [], "next_cursor": None}))

    connector.sync(None)

    assert sink.upserts == [("contacts", r) for r in contacts] + [("companies", r) for r in companies]
    assert sink.checkpoints[0] == {"stream": "contacts", "cursor": "c2", "events_cursor": "e3"}
    assert {"stream": "companies", "cursor": None, "events_cursor": "e3"} in sink.checkpoints
    assert sink.checkpoints[-1] == {"events_cursor": "e3"}
    assert all(r.url.params["limit"] == "2" for r in api_calls(api))
    pages = [f for level, message, f in sink.logs if (level, message) == ("info", "page fetched")]
    assert {"stream": "contacts", "count": 2} in [{k: f[k] for k in ("stream", "count")} for f in pages]
    assert len({f["sync_id"] for f in pages}) == 1  # one correlation id on every line of the sync


def test_incremental_sync_applies_created_updated_and_deleted(api, connector, sink):
    contact, company = {"id": "con_1", "email": "a@b.c"}, {"id": "cmp_1", "name": "Acme"}
    events = [
        {"type": "contact.created", "object_id": "con_1", "object": contact},
        {"type": "company.updated", "object_id": "cmp_1", "object": company},
        {"type": "deal.deleted", "object_id": "deal_1", "object": None},
        {"type": "contact.deleted", "object_id": "con_2", "object": None},
    ]
    api.get("/v1/events").mock(side_effect=paged(events, marker="e", feed=True))

    connector.sync({"events_cursor": "e0"})

    assert sink.upserts == [("contacts", contact), ("companies", company)]
    assert sink.deletes == [("deals", "deal_1"), ("contacts", "con_2")]
    assert sink.checkpoints == [{"events_cursor": "e2"}, {"events_cursor": "e4"}, {"events_cursor": "e4"}]


def test_resume_continues_the_stream_and_the_rest(api, connector, sink):
    api.get("/v1/companies").mock(side_effect=paged(records("cmp", 3)))
    api.get("/v1/deals").mock(side_effect=paged(records("deal", 1)))

    connector.sync({"stream": "companies", "cursor": "c2", "events_cursor": "e9"})

    assert [r["id"] for _, r in sink.upserts] == ["cmp_0000000000000002", "deal_0000000000000000"]
    assert sink.checkpoints[-1] == {"events_cursor": "e9"}


# -- auth -----------------------------------------------------------------------------------------


def test_token_is_requested_once_and_sent_only_as_bearer(api, connector, sink):
    api.get("/v1/events").mock(side_effect=paged([], marker="e", feed=True))
    for stream in ("contacts", "companies", "deals"):
        api.get(f"/v1/{stream}").mock(side_effect=paged(records(stream[:3], 3)))

    connector.sync(None)

    form = parse_qs(api["token"].calls.last.request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["cli_1"],
        "client_secret": [SECRET],
        "scope": ["contacts:read events:read"],
    }
    assert api["token"].call_count == 1
    for request in api_calls(api):
        assert request.headers["Authorization"] == "Bearer tok_" + "a" * 20
        assert "tok_" not in str(request.url)
    assert SECRET not in repr(sink.logs) and "tok_" not in repr(sink.logs)


def test_refreshes_token_once_on_401(api, connector):
    first, second = "tok_first_aaaaaaaaaaaa", "tok_second_aaaaaaaaaaa"
    api["token"].mock(side_effect=[token_response(first), token_response(second)])
    route = api.get("/v1/events").mock(side_effect=[httpx.Response(401), empty()])

    connector.sync({"events_cursor": None})

    sent = [call.request.headers["Authorization"] for call in route.calls]
    assert sent == [f"Bearer {first}", f"Bearer {second}"]


def test_second_401_in_a_row_raises(api, connector):
    route = api.get("/v1/events").mock(return_value=httpx.Response(401))

    with pytest.raises(AuthenticationError, match="refused twice"):
        connector.sync({"events_cursor": None})
    assert route.call_count == 2


def test_refreshes_token_before_it_expires(api, connector):
    api["token"].mock(return_value=token_response(expires_in=100))
    api.get("/v1/events").mock(side_effect=lambda request: empty())
    now = [1000.0]
    connector._now = lambda: now[0]

    connector.sync({"events_cursor": None})
    now[0] += 95  # inside the refresh margin
    connector.sync({"events_cursor": None})

    assert api["token"].call_count == 2


def test_check_raises_clearly_on_refused_credentials(api, connector):
    api["token"].mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))

    with pytest.raises(AuthenticationError, match="invalid_client") as excinfo:
        connector.check()
    assert SECRET not in str(excinfo.value)
    assert api["token"].call_count == 1


# -- resilience -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "waited"), [("7", 7.0), ("3600", AcmeSync.MAX_RETRY_AFTER)])
def test_429_waits_retry_after_capped(api, connector, sleeps, retry_after, waited):
    rate_limited = httpx.Response(429, headers={"Retry-After": retry_after})
    api.get("/v1/events").mock(side_effect=[rate_limited, empty()])

    connector.sync({"events_cursor": None})

    assert sleeps == [waited]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503),
        httpx.Response(200, content=b'{"data": [{"id"'),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["5xx", "truncated-json", "connect-error", "read-timeout"],
)
def test_transient_failures_are_retried_with_backoff(api, connector, sleeps, failure):
    route = api.get("/v1/events").mock(side_effect=[failure, failure, empty()])

    connector.sync({"events_cursor": None})

    assert route.call_count == 3
    assert len(sleeps) == 2 and 0 < sleeps[0] < sleeps[1]


def test_gives_up_after_max_attempts(api, connector, sleeps):
    route = api.get("/v1/events").mock(return_value=httpx.Response(500))

    with pytest.raises(PlatformError, match="giving up"):
        connector.sync({"events_cursor": None})
    assert route.call_count == connector.MAX_ATTEMPTS


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_raise_without_retry(api, connector, sleeps, status):
    problem = {"type": "about:blank", "title": "Bad Request", "status": status}
    route = api.get("/v1/events").mock(return_value=httpx.Response(status, json=problem))

    with pytest.raises(PlatformError, match=f"HTTP {status}"):
        connector.sync({"events_cursor": None})
    assert route.call_count == 1 and sleeps == []


# -- webhooks -------------------------------------------------------------------------------------


def signed(body: bytes, msg_id: str = "msg_1", timestamp: int | None = None, key: bytes = WEBHOOK_KEY):
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest())
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{mac.decode()}"}


CONTACT = {"id": "con_0000000000000001", "email": "a@b.c"}
CREATED = json.dumps({"type": "contact.created", "timestamp": "2024-01-01T00:00:00Z", "data": CONTACT})
CREATED = CREATED.encode()


def test_webhook_with_good_signature_is_applied(connector, sink):
    assert connector.handle_webhook(signed(CREATED), CREATED) == 204
    deleted = json.dumps({"type": "contact.deleted", "timestamp": "x", "data": {"id": CONTACT["id"]}})
    deleted = deleted.encode()
    assert connector.handle_webhook(signed(deleted, msg_id="msg_2"), deleted) == 204
    assert sink.upserts == [("contacts", CONTACT)]
    assert sink.deletes == [("contacts", CONTACT["id"])]


# Headers are signed when the test runs, not at collection: the connector accepts timestamps within
# 300 s, and a suite can reach this test more than 5 minutes after collecting it.
@pytest.mark.parametrize(
    "headers",
    [
        lambda: signed(CREATED, key=b"another-key"),
        lambda: {**signed(CREATED), "webhook-signature": "v1,AAAA"},
        lambda: signed(CREATED, timestamp=int(time.time()) - 600),
        lambda: signed(CREATED, timestamp=int(time.time()) + 600),
        lambda: {k: v for k, v in signed(CREATED).items() if k != "webhook-signature"},
        lambda: {},
    ],
    ids=["wrong-key", "garbage-signature", "stale", "future", "missing-signature", "no-headers"],
)
def test_webhook_refused_without_side_effect(connector, sink, headers):
    assert 400 <= connector.handle_webhook(headers(), CREATED) < 500
    assert sink.upserts == [] and sink.deletes == []


def test_webhook_tampered_body_is_refused(connector, sink):
    assert connector.handle_webhook(signed(CREATED), CREATED.replace(b"a@b.c", b"x@y.z")) == 401
    assert sink.upserts == []


def test_webhook_replay_is_acknowledged_but_applied_once(connector, sink):
    headers = signed(CREATED)
    assert connector.handle_webhook(headers, CREATED) == 204
    assert connector.handle_webhook(headers, CREATED) == 200
    assert len(sink.upserts) == 1


# -- push -----------------------------------------------------------------------------------------


def test_push_sends_a_stable_idempotency_key_and_retries_with_it(api, connector, sleeps):
    route = api.post("/v1/contacts").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(201, json={"id": "con_1"}),
            httpx.Response(201, json={"id": "con_2"}),
            httpx.Response(201, json={"id": "con_1"}),
        ]
    )
    first, second = {"email": "a@b.c", "first_name": "A"}, {"email": "d@e.f", "first_name": "D"}

    connector.push("contacts", [first, second, dict(reversed(list(first.items())))])

    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys[0] == keys[1] == keys[3] != keys[2]
    assert json.loads(route.calls[0].request.content) == first
    assert len(sleeps) == 1
