"""Records every way the contract allows (harness.synth.untidy, NumericLookingCodec): optional
fields left out, empty arrays, undeclared fields where allowed, numeric-looking string ids;
seeded, always contract-valid, and off for a tidy tenant."""

from __future__ import annotations

import socket

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness.runtime
from harness.contract import load
from harness.synth import Dataset
from harness.synth.ids import NumericLookingCodec, codec_for_schema
from harness.synth.untidy import plan_for
from tests.conftest import ROOT
from tests.unit.synth_schemas import contract_files

STRIPE = ROOT / "tests" / "contracts" / "stripe_like.openapi.yaml"
# every checked-in contract the sandbox serves collections of
CONTRACTS = [
    p
    for p in [*contract_files(ROOT / "tests" / "contracts"), ROOT / "contracts" / "platform.openapi.yaml"]
    if "broken" not in p.parts
]


@pytest.fixture(scope="module")
def stripe():
    return load(STRIPE)


def _sizes(contract, size=200):
    from harness.synth import fit_sizes

    return fit_sizes(contract, {name: size for name in contract.collections})[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), index=st.integers(0, 199), which=st.sampled_from(CONTRACTS))
def test_untidy_records_validate_and_keep_their_ids_whatever_the_seed(seed, index, which):
    contract = load(which)
    if not contract.collections:
        return
    sizes = _sizes(contract)
    ds = Dataset(contract, seed=seed, sizes=sizes)
    tidy = Dataset(contract, seed=seed, sizes=sizes, adversarial=False)
    for name, col in contract.collections.items():
        if not sizes[name]:
            continue
        at = index % sizes[name]
        record = ds.record(name, at)
        errors = [e.message for e in contract.validator(col.item_schema_uri).iter_errors(record)]
        assert errors == [], (which.name, name, record)
        assert ds.index_of(name, record[col.id_field]) == at
        kept = {col.id_field, col.updated_field} & set(tidy.record(name, at))
        assert kept <= set(record)  # never left out: the sandbox pages and filters by them


def test_the_same_seed_gives_the_same_untidy_records_and_another_seed_other_ones(stripe):
    one, same, other = (Dataset(stripe, seed=s, sizes={"customers": 80}) for s in (4, 4, 5))
    assert list(one.records("customers")) == list(same.records("customers"))
    assert list(one.records("customers")) != list(other.records("customers"))


def test_optional_fields_are_sometimes_absent_arrays_empty_and_extra_fields_added(stripe):
    col = stripe.collections["customers"]
    plan = plan_for(stripe, col)
    assert {"email", "name", "metadata"} <= set(plan.optional) and col.id_field not in plan.optional
    assert plan.extra is True  # Stripe's customer schema does not close additionalProperties
    ds = Dataset(stripe, seed=3, sizes={"customers": 200})
    tidy = Dataset(stripe, seed=3, sizes={"customers": 200}, adversarial=False)
    left_out, extra = set(), set()
    for i in range(200):
        record, plain = ds.record("customers", i), tidy.record("customers", i)
        left_out |= set(plain) - set(record)
        extra |= set(record) - set(plain)
        assert {k: v for k, v in record.items() if k in plain and k != "id"} == {
            k: v for k, v in plain.items() if k in record and k != "id"
        }  # what is kept is what the generator made
    assert {"email", "name", "phone"} <= left_out and "created" not in left_out
    assert extra & {"legacy_id", "sync_token", "account_tier", "beta_features", "internal_score"}
    products = Dataset(stripe, seed=3, sizes={"products": 200})
    assert any(r["images"] == [] for r in products.records("products"))  # minItems allows it


def test_closed_schemas_get_no_extra_fields():
    contract = load(ROOT / "tests" / "contracts" / "ticketing_like.openapi.yaml")
    plan = plan_for(contract, contract.collections["tickets"])
    assert plan.extra is None and plan.optional
    ds = Dataset(contract, seed=1, sizes={"tickets": 100})
    declared = plan.names
    assert all(set(r) <= declared for r in ds.records("tickets"))


def test_string_ids_that_permit_digits_collide_as_numbers_and_stay_distinct_as_text(stripe):
    ds = Dataset(stripe, seed=8, sizes={"customers": 400})
    ids = [r["id"] for r in ds.records("customers")]
    assert len(set(ids)) == 400
    digits = [i for i in ids if i.isdigit()]
    padded = [i for i in digits if i.startswith("0")]
    assert 150 < len(digits) < 250 and 50 < len(padded) < 150  # half digits, a quarter with zeros
    assert len({int(i) for i in digits}) == len(digits) - len(padded)  # int() merges "42" and "00042"
    assert "00042" in ids and "42" in ids
    assert [ds.index_of("customers", i) for i in ids] == list(range(400))
    assert ds.index_of("customers", 42) is None  # the number is not the id
    tidy = Dataset(stripe, seed=8, sizes={"customers": 400}, adversarial=False)
    assert not any(r["id"].isdigit() for r in tidy.records("customers"))


@given(
    index=st.integers(0, 10**9),
    offset=st.integers(0, 3),
    base=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_numeric_looking_codec_round_trips_every_index(index, offset, base, seed):
    sized = codec_for_schema({"type": "string", "maxLength": 64}, seed, "customers") if base else None
    codec = NumericLookingCodec(sized, "customers", offset)  # type: ignore[arg-type]
    assert codec.decode(codec.encode(index)) == index


def test_digit_ids_only_where_nothing_forbids_them():
    for schema in (
        {"type": "string", "pattern": "^cus_[0-9a-z]{8}$"},
        {"type": "string", "format": "uuid"},
        {"type": "string", "minLength": 8},
        {"type": "string", "maxLength": 4},
        {"type": "integer"},
    ):
        assert not isinstance(codec_for_schema(schema, 1, "things", adversarial=True), NumericLookingCodec)
    for schema in ({"type": "string"}, {"type": "string", "maxLength": 5000}):
        assert isinstance(codec_for_schema(schema, 1, "things", adversarial=True), NumericLookingCodec)
        assert not isinstance(codec_for_schema(schema, 1, "things"), NumericLookingCodec)


def test_a_tidy_tenant_gets_none_of_it_and_says_so(platform_contract, stripe):
    with harness.runtime.embedded(stripe) as sandbox:
        tenant = sandbox.new_tenant(seed=2, sizes={"customers": 60}, adversarial=False)
        assert tenant.info["adversarial"] is False
        ids = [r["id"] for r in tenant.records("customers")]
        assert not any(i.isdigit() for i in ids)
        assert sandbox.new_tenant(seed=2, sizes={"customers": 60}).info["adversarial"] is True
    with harness.runtime.embedded(platform_contract) as sandbox:
        tenant = sandbox.new_tenant(seed=5, sizes={"contacts": 40}, adversarial=False)
        token = httpx.post(
            tenant.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": tenant.client_id,
                "client_secret": tenant.client_secret,
            },
        ).json()["access_token"]
        host, port = tenant.base_url.split("//")[1].split("/")[0].split(":")
        path = "/" + tenant.base_url.split("//")[1].split("/", 1)[1]
        for limit in range(1, 13):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(
                    f"GET {path}/v1/contacts?limit={limit} HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {token}\r\nAccept-Encoding: gzip\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                raw = b""
                while chunk := sock.recv(65536):
                    raw += chunk
            head = raw.split(b"\r\n\r\n", 1)[0].lower()
            assert raw.startswith(b"HTTP/1.1 200")
            assert b"content-encoding" not in head and b"transfer-encoding" not in head
            assert b"x-request-id" not in head and b"x-runtime" not in head


def test_an_id_of_thousands_of_digits_names_no_record_and_is_never_a_500(tmp_path):
    """schemathesis sent Stripe `/v1/.../{id}` with an id of 5,000 digits: `int()` refuses past
    4,300 digits (a ValueError), so decoding it was a 500. It names no record: every codec that
    reads digits says so, and the sandbox answers as for any unknown id (a 404); an integer id
    or a `limit` past that many digits is refused, never a 500."""
    import json

    from starlette.testclient import TestClient

    from harness.contract import load
    from harness.sandbox import Sandbox
    from harness.synth.ids import DigitsCodec

    huge = "7" * 5000
    assert DigitsCodec(12).decode(huge) is None
    assert NumericLookingCodec(None, "customers", 1).decode(huge) is None
    assert NumericLookingCodec(None, "customers", 1).decode("cus_" + huge) is None

    def item(kind):
        ref = {"type": "object", "properties": {"id": {"type": kind}, "name": {"type": "string"}}}
        return {"description": "ok", "content": {"application/json": {"schema": ref}}}

    paths = {}
    for name, kind in (("texts", "string"), ("numbers", "integer")):
        one = {"name": "id", "in": "path", "required": True, "schema": {"type": kind}}
        listed = {"type": "array", "items": item(kind)["content"]["application/json"]["schema"]}
        paths[f"/{name}"] = {
            "get": {
                "operationId": f"list_{name}",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": listed}}}
                },
            }
        }
        paths[f"/{name}/{{id}}"] = {
            "get": {
                "operationId": f"get_{name}",
                "parameters": [one],
                "responses": {"200": item(kind), "404": {"description": "no"}},
            },
            "post": {
                "operationId": f"update_{name}",
                "parameters": [one],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": item(kind), "404": {"description": "no"}},
            },
        }
    path = tmp_path / "digits.json"
    path.write_text(
        json.dumps({"openapi": "3.0.3", "info": {"title": "Digits", "version": "1"}, "paths": paths})
    )
    with TestClient(Sandbox(load(path), admin_token="adm").app) as http:
        made = http.post(
            "/_sandbox/tenants",
            json={"seed": 1, "adversarial": True},
            headers={"Authorization": "Bearer adm"},
        )
        base = made.json()["base_url"]
        assert http.get(f"{base}/texts/{huge}").status_code == 404
        assert http.post(f"{base}/texts/{huge}", json={"name": "n"}).status_code == 404
        assert http.get(f"{base}/numbers/{huge}").status_code == 400  # past int()'s limit: text
        for name in ("texts", "numbers"):
            assert http.get(f"{base}/{name}", params={"limit": huge}).status_code < 500
