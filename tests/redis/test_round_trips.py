"""How many times an API request waits on Redis: admission (tenant, request number, faults, token,
client, rate limit, change-log tail) is one script, and the request log's append the other."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis
from redis.connection import Connection
from starlette.testclient import TestClient

from harness.sandbox.app import create_app
from harness.sandbox.store.redis import RedisStore


class RoundTrips:
    """Counts the commands (or pipelines) this thread's Redis connections send."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        send = Connection.send_packed_command
        counter = self

        def counted(conn: Connection, command: object, check_health: bool = True) -> None:
            counter.sent.append(threading.current_thread().name)
            send(conn, command, check_health)

        monkeypatch.setattr(Connection, "send_packed_command", counted)

    def during(self, call) -> int:
        before = len(self.sent)
        call()
        return len(self.sent) - before


@pytest.fixture
def served(
    platform_contract, redis_server, monkeypatch
) -> Iterator[tuple[TestClient, object, str, RoundTrips]]:
    store = RedisStore(redis.Redis.from_url(redis_server.url), delivery_workers=0)  # no background polling
    sandbox = create_app(platform_contract, store=store)
    # a budget of 5 that refills one token in 1000 s: what these requests spend is what is left
    tenant, client = sandbox.tenants.create(seed=4, sizes={"contacts": 30}, rate_limit=(0.001, 5))
    token = tenant.issue_token(client, client.scopes).value
    trips = RoundTrips(monkeypatch)
    with TestClient(sandbox.app) as http:
        yield http, tenant, token, trips
    sandbox.close()


def left(tenant) -> int:
    """Whole tokens in the tenant's only client's bucket."""
    client_id = next(iter(tenant.clients))
    return int(float(tenant.data._r.hget(f"hs:{{{tenant.id}}}:rl:{client_id}", "tokens")))


def test_an_authenticated_list_costs_two_round_trips(served):
    http, tenant, token, trips = served
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/t/{tenant.id}/v1/contacts?limit=20"
    assert http.get(url, headers=headers).status_code == 200  # warm: scripts loaded, tenant cached
    count = trips.during(lambda: http.get(url, headers=headers))
    assert count == 2, f"{count} round trips to Redis for one list request"
    log = tenant.requests.since(0)
    assert [e.seq for e in log] == [1, 2] and [e.status for e in log] == [200, 200]
    assert left(tenant) == 3  # each request spent one token of the budget, once


def test_a_write_by_another_process_is_seen_by_the_next_read_without_an_extra_round_trip(
    served, platform_contract, redis_server
):
    http, tenant, token, trips = served
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get(f"/t/{tenant.id}/v1/contacts?limit=50", headers=headers).status_code == 200
    other = RedisStore(redis.Redis.from_url(redis_server.url), delivery_workers=0)  # another replica
    elsewhere = create_app(platform_contract, store=other).tenants.get(tenant.id)
    assert elsewhere is not None
    made = elsewhere.data.create("contacts", {"email": "o@example.com", "first_name": "O", "last_name": "P"})
    other.close()

    def listed() -> None:
        page = http.get(f"/t/{tenant.id}/v1/contacts?limit=50", headers=headers).json()["data"]
        assert made["id"] in [r["id"] for r in page]

    assert trips.during(listed) == 2


def test_a_request_refused_before_the_rate_limit_gives_back_the_token_its_admission_spent(served):
    http, tenant, token, _ = served
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get(f"/t/{tenant.id}/v1/contacts?limit=5", headers=headers).status_code == 200
    assert left(tenant) == 4
    # a path the contract does not have: answered before the rate limit is reached
    assert http.get(f"/t/{tenant.id}/v1/nowhere", headers=headers).status_code == 404
    assert http.delete(f"/t/{tenant.id}/v1/contacts", headers=headers).status_code == 405
    assert left(tenant) == 4
    assert http.get(f"/t/{tenant.id}/v1/contacts?limit=5", headers=headers).status_code == 200
    assert left(tenant) == 3
