"""Each oracle both ways, one example at a time (no campaign): it finds the defect of a flawed
connector and nothing on the reference connector given the same input."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.core.requests import Auth, LoggedRequest
from harness.fuzz.canaries import Canaries, slots_of
from harness.fuzz.endpoint import coverage_inputs, webhook_openapi
from harness.fuzz.oracles import growth_problem, url_leak_problem
from harness.fuzz.responses import Responses
from harness.fuzz.soak import Soak
from harness.fuzz.target import Limits
from harness.fuzz.webhooks import Webhooks
from harness.fuzz.world import World
from tests.fuzz.conftest import FLAWED, FUZZ_CONNECTORS, REFERENCE

SMALL = {"seed": 1, "profile": "small", "sizes": {"contacts": 2, "companies": 1, "deals": 1}, "plant": []}


@pytest.fixture(scope="module")
def worlds() -> Iterator[Callable[[Path], World]]:
    """A started World per connector, shared by the module's tests."""
    started: dict[Path, World] = {}

    def world(connector: Path) -> World:
        if connector not in started:
            started[connector] = World.start(str(connector))
        return started[connector]

    try:
        yield world
    finally:
        for each in started.values():
            each.close()


def keys(world: World, example: dict) -> list[str]:
    return [p.key for p in Responses().execute(world, example, Limits(512)).problems]


def request(
    path: str, query: dict[str, tuple[str, ...]] | None = None, auth: Auth | None = None
) -> LoggedRequest:
    return LoggedRequest(1, 0.0, "GET", path, 200, "listContacts", query=query or {}, auth=auth or Auth())


# -- credentials in request URLs --------------------------------------------------------------------


def test_a_token_in_the_query_string_of_a_request_is_a_leak(worlds):
    found = keys(worlds(FLAWED / "token_in_query"), SMALL)
    assert any(k.startswith("leak:a credential in the query string of ") for k in found), found


def test_the_reference_connector_puts_no_credential_in_a_url(worlds):
    assert keys(worlds(REFERENCE), SMALL) == []


def test_a_masked_query_value_or_a_secret_in_a_path_is_a_leak_and_an_ordinary_url_is_not():
    secrets = {"the client secret": "cs_live_0123456789abcdefghij"}
    ordinary = request("/v1/contacts/con_42", {"limit": ("100",), "cursor": ("eyJwIjoxfQ",)})
    assert url_leak_problem(secrets, [ordinary]) is None
    masked = request("/v1/contacts", {"access_token": ("Wr2x****",)})
    leak = url_leak_problem(secrets, [ordinary, masked])
    assert leak is not None and leak.key == "leak:a credential in the query string of listContacts"
    in_path = url_leak_problem(secrets, [request("/v1/cs_live_0123456789abcdefghij/contacts")])
    assert in_path is not None and in_path.key == "leak:the client secret in the path of listContacts"
    assert "0123456789abcdefghij" not in in_path.message  # the report never repeats the secret
    shaped = url_leak_problem({}, [request("/v1/contacts/at_0123456789abcdefXYZ")])
    assert shaped is not None and shaped.key == "leak:a credential in the path of listContacts"


def test_an_api_key_the_contract_places_in_the_query_is_not_a_leak():
    accepted = Auth(credential="query", client_id="cli_1")
    entry = request("/v1/contacts", {"api_key": ("cs_l****",)}, accepted)
    assert url_leak_problem({}, [entry]) is None


# -- canaries in undeclared fields ------------------------------------------------------------------


def planted(later: bool) -> dict:
    slots = [
        {"stream": "contacts", "field": "phone", "key": None},
        {"stream": "contacts", "field": "custom_fields", "key": "loyalty_tier"},
    ]
    return {**SMALL, "plant": [{"slots": slots, "later": later}]}


def canary_keys(world: World, example: dict) -> list[str]:
    return [p.key for p in Canaries().execute(world, example, Limits(512)).problems]


def test_the_canary_slots_are_the_undeclared_fields_that_can_hold_one(worlds):
    slots = {s.label for s in slots_of(worlds(REFERENCE), "contacts")}
    # email, names and updated_at are declared; id and created_at are the platform's; the
    # lifecycle stage is an enum and the company id a pattern: neither can carry a canary
    assert slots == {"contacts.phone", "contacts.tags", "contacts.custom_fields[*]"}
    assert slots_of(worlds(REFERENCE), "companies") == []  # declares no fields: every field is its own


def test_a_canary_stored_in_the_replica_is_found(worlds):
    found = canary_keys(worlds(FLAWED / "ignores_fields"), planted(later=False))
    assert found == ["canary:contacts in its stored records"]


def test_a_canary_in_its_logs_is_found_where_it_reaches_them(worlds):
    connector = worlds(FUZZ_CONNECTORS / "logs_changed_records")
    assert canary_keys(connector, planted(later=False)) == []  # a full sync logs no record
    assert canary_keys(connector, planted(later=True)) == ["canary:contacts in its logs"]


def test_the_reference_connector_keeps_no_canary(worlds):
    for later in (False, True):
        assert canary_keys(worlds(REFERENCE), planted(later)) == []


# -- memory judged by growth ------------------------------------------------------------------------


def soak(world: World, sizes: int, incremental: bool) -> list[str]:
    streams = {"contacts": sizes, "companies": sizes, "deals": sizes}
    example = {"seed": 2, "sizes": streams, "syncs": 6, "incremental": incremental, "churn": 2}
    return [p.key for p in Soak().execute(world, example, Limits(512)).problems]


@pytest.mark.parametrize("incremental", [False, True])
def test_a_connector_whose_memory_rises_sync_after_sync_is_found(worlds, incremental):
    assert soak(worlds(FUZZ_CONNECTORS / "grows_per_sync"), 3, incremental) == ["memory:growth across syncs"]


@pytest.mark.parametrize("sizes", [3, 101])
def test_a_flat_connector_is_not_a_leak_however_high_its_peak(worlds, sizes):
    assert soak(worlds(REFERENCE), sizes, incremental=False) == []
    # holds every page of a list in memory: a high peak (PERF-02's defect), but the same every sync
    assert soak(worlds(FLAWED / "holds_every_page"), sizes, incremental=False) == []


def test_growth_is_a_steady_rise_over_a_floor_and_a_share_of_the_peak():
    mib = 1024
    assert growth_problem([30 * mib, 40 * mib, 40 * mib, 40 * mib, 40 * mib]) is None  # warm-up only
    assert growth_problem([30 * mib, 31 * mib, 39 * mib, 39 * mib, 39 * mib]) is None  # one spike
    assert growth_problem([30 * mib, 31 * mib, 32 * mib, 33 * mib, 34 * mib]) is None  # 3 MiB: noise
    steady = growth_problem([30 * mib, 31 * mib, 33 * mib, 35 * mib, 37 * mib])
    assert steady is not None and steady.key == "memory:growth across syncs"
    # 5 MiB on a 400 MiB process is under the ratio: a slow warm-up, not a leak
    assert growth_problem([400 * mib, 400 * mib, 402 * mib, 404 * mib, 405 * mib]) is None


# -- schemathesis over the webhook endpoint ---------------------------------------------------------


def delivery(body: dict | bytes, headers: dict[str, str] | None = None) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {
        "body": base64.b64encode(raw).decode(),
        "content_type": "application/json",
        "headers": headers,
        "source": "test",
    }


def delivered(world: World, example: dict) -> list[str]:
    return [p.key for p in Webhooks().execute(world, example, Limits(512)).problems]


def test_the_endpoint_operation_is_the_declared_webhooks_on_the_webhook_path(worlds):
    api = webhook_openapi(worlds(REFERENCE))
    assert api is not None
    (path,) = api["paths"]
    operation = api["paths"][path]["post"]
    assert path == worlds(REFERENCE).manifest.webhook_path
    headers = {p["$ref"].rpartition("/")[2] for p in operation["parameters"]}
    assert headers == {"WebhookId", "WebhookTimestamp", "WebhookSignature"}
    assert "application/json" in operation["requestBody"]["content"]


def test_schemathesis_cases_include_negative_and_unsigned_ones(worlds):
    cases = coverage_inputs(worlds(REFERENCE))
    bodies = [base64.b64decode(c["body"]) for c in cases]
    assert b"null" in bodies and b"0" in bodies  # a body of each wrong JSON type
    assert any(b'"data": 0' in b for b in bodies)  # a property of the wrong type
    assert all(c["headers"] is None for c in cases)  # edge cases are signed: they reach the parsing


def test_an_event_that_breaks_the_schema_is_found_when_it_makes_the_endpoint_answer_5xx(worlds):
    broken = delivery({"type": "contact.created", "data": 0, "timestamp": "2000-01-01T00:00:00Z"})
    flawed = worlds(FUZZ_CONNECTORS / "trusts_event_shape")
    assert [k.partition(" at ")[0] for k in delivered(flawed, broken)] == ["5xx:status 500"]
    assert delivered(worlds(REFERENCE), broken) == []  # refused with a 400


def test_generated_headers_are_refused_not_crashed_on(worlds):
    mangled = delivery({"type": "contact.created"}, {"webhook-signature": "&", "webhook-timestamp": "x"})
    assert delivered(worlds(REFERENCE), mangled) == []
    assert delivered(worlds(REFERENCE), delivery(b"\xff\xfe", {})) == []
