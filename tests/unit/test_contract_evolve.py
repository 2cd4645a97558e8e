"""The contract's next additive version (harness.contract.evolve): valid, additive only, and every
record valid under today's contract stays valid under it; the sandbox serves it per tenant."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.contract import Contract, default_contract_path, load
from harness.contract.evolve import EXTENSION, Evolution, evolve
from harness.contract.loader import structure_problems
from harness.synth.dataset import Dataset

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [
    default_contract_path(),
    *sorted((ROOT / "tests" / "contracts").glob("*.openapi.yaml")),
    ROOT / "tests" / "contracts" / "ticketing.openapi.json",
]
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def contract(path: Path) -> Contract:
    return load(path)


def contained(old: Any, new: Any, at: str = "") -> list[str]:
    """Where `new` is not `old` with additions: a key gone or changed, a `required` list changed,
    an `enum` that lost or reordered a value; [] when every change is an addition."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [at]
        out = [f"{at}/{k} removed" for k in old if k not in new]
        out += [
            f"{at}/required gained {sorted(set(new['required']) - set(old['required']))}"
            for _ in [0]
            if isinstance(old.get("required"), list) and new.get("required") != old["required"]
        ]
        out += [
            f"{at}/required added"
            for _ in [0]
            if "required" not in old and isinstance(new.get("required"), list)
        ]
        for k in old:
            if k in new and k != "required":
                out += contained(old[k], new[k], f"{at}/{k}")
        return out
    if isinstance(old, list):
        if not isinstance(new, list):
            return [at]
        if at.endswith("/enum"):
            return [] if new[: len(old)] == old else [f"{at} lost a value"]
        if len(new) != len(old):
            return [f"{at} changed length"]
        return [
            p for i, (a, b) in enumerate(zip(old, new, strict=True)) for p in contained(a, b, f"{at}/{i}")
        ]
    return [] if old == new else [f"{at} changed"]


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.name)
@PROPERTY
@given(seed=SEEDS)
def test_the_evolved_version_is_valid_additive_and_deterministic(path: Path, seed: int) -> None:
    original = contract(path)
    evolved = evolve(original, seed)
    document = {k: v for k, v in evolved.document.items() if k != EXTENSION}
    assert contained(original.document, document) == []
    assert len(structure_problems(document, original.version)) <= len(
        structure_problems(original.document, original.version)
    )  # no new problem of structure (3.0 contracts hold JSON Schema's nullable once loaded)
    assert evolve(original, seed).document == evolved.document
    assert sorted(evolved.collections) == sorted(original.collections)
    assert [str(op) for op in evolved.operations] == [str(op) for op in original.operations]
    # requests: nothing the connector sends today becomes invalid, no parameter becomes required
    for old, new in zip(original.operations, evolved.operations, strict=True):
        assert old.body_required == new.body_required
        assert {p.key for p in new.parameters if p.required} == {p.key for p in old.parameters if p.required}


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.name)
@PROPERTY
@given(seed=SEEDS)
def test_records_valid_today_stay_valid_and_evolved_records_are_contract_true(path: Path, seed: int) -> None:
    original = contract(path)
    evolved = evolve(original, seed)
    evolution = Evolution.of(evolved)
    assert evolution is not None and evolution.seed == seed
    today = Dataset(original, seed=seed % 1000, sizes=dict.fromkeys(original.collections, 6))
    tomorrow = Dataset(evolved, seed=seed % 1000, sizes=dict.fromkeys(original.collections, 6))
    for name, col in evolved.collections.items():
        validator = evolved.validator(col.item_schema_uri)
        for record in today.records(name):
            assert [e.message for e in validator.iter_errors(record)] == []
        for record in tomorrow.records(name):
            assert [e.message for e in validator.iter_errors(record)] == []
            assert set(evolution.fields.get(name, ())) <= set(record) | set(
                col.item_schema.get("required") or ()
            )


def test_each_collection_gains_a_field_and_enums_a_value(platform_contract) -> None:
    evolution = Evolution.of(evolve(platform_contract, 3))
    assert evolution is not None
    assert set(evolution.fields) == set(platform_contract.collections)
    assert "lifecycle_stage" in evolution.enums["contacts"]
    assert set(evolution.deprecated) == {
        c.list_op.operation_id for c in platform_contract.collections.values()
    }
    assert Evolution.of(platform_contract) is None


def bearer(http: Any, tenant: Any) -> dict[str, str]:
    """The Authorization header of a client-credentials token for the tenant's client."""
    form = {"grant_type": "client_credentials", "client_id": tenant.client_id}
    form["client_secret"] = tenant.client_secret
    return {"Authorization": f"Bearer {http.post(tenant.token_url, data=form).json()['access_token']}"}


def test_the_sandbox_serves_an_evolved_tenant_with_deprecation_headers(sandbox, http) -> None:
    evolved = sandbox.new_tenant(seed=5, sizes={"contacts": 3}, evolve=9)
    plain = sandbox.new_tenant(seed=5, sizes={"contacts": 3})
    added = evolved.info["evolved"]["fields"]["contacts"][0]
    assert plain.info["evolved"] is None
    answers = {}
    for tenant in (evolved, plain):
        answers[tenant.id] = http.get(f"{tenant.base_url}/v1/contacts", headers=bearer(http, tenant))
    new, old = answers[evolved.id], answers[plain.id]
    assert new.status_code == old.status_code == 200
    assert new.headers["Deprecation"].startswith("@") and new.headers["Sunset"].endswith("GMT")
    assert "Deprecation" not in old.headers and "Sunset" not in old.headers
    assert all(added in r for r in new.json()["data"]) and not any(added in r for r in old.json()["data"])
    logged = [e for e in evolved.requests() if e.operation == "listContacts"]
    assert logged and all(not e.response_violations for e in logged)  # contract-true for the evolved version
    assert added in evolved.records("contacts")[0]  # the control API reaches the evolved tenant
    stage = evolved.info["evolved"]["enums"]["contacts"]["lifecycle_stage"]
    changed = evolved.update("contacts", evolved.records("contacts")[0]["id"], {"lifecycle_stage": stage})
    assert changed["lifecycle_stage"] == stage  # the new enum value is a valid write there


def test_the_additive_property_sees_removals_and_new_requirements() -> None:
    assert contained({"required": ["a"]}, {"required": ["a", "b"]}) != []
    assert contained({"properties": {"a": {}}}, {"properties": {}}) != []
    assert contained({"enum": ["x", "y"]}, {"enum": ["y", "x"]}) != []
    assert contained({"properties": {"a": {}}}, {"properties": {"a": {}, "b": {}}, "x": 1}) == []


def test_the_change_feed_gains_a_new_kind_of_change_per_collection(platform_contract) -> None:
    evolved = evolve(platform_contract, 3)
    evolution = Evolution.of(evolved)
    assert evolution is not None and set(evolution.events) == set(platform_contract.collections)
    enum = evolved.document["components"]["schemas"]["EventType"]["enum"]
    today = platform_contract.document["components"]["schemas"]["EventType"]["enum"]
    assert enum[: len(today)] == today
    assert sorted(enum[len(today) :]) == sorted(evolution.events.values())
    assert evolution.events["contacts"].startswith("contact.") and evolution.events["contacts"] not in today
    assert Evolution.from_dict(evolution.to_dict()) == evolution


def test_a_feed_whose_event_type_is_any_string_gets_new_kinds_without_a_changed_schema() -> None:
    stripe = contract(ROOT / "tests" / "contracts" / "stripe_like.openapi.yaml")
    evolution = Evolution.of(evolve(stripe, 3))
    assert evolution is not None
    assert evolution.events == {
        name: f"{name[:-1]}.{evolution.events['customers'].partition('.')[2]}" for name in stripe.collections
    }
    github = contract(ROOT / "tests" / "contracts" / "github_like.openapi.yaml")  # no change feed
    assert Evolution.of(evolve(github, 3)).events == {}  # type: ignore[union-attr]


def test_an_evolved_tenant_announces_its_new_kind_of_change_after_each_update(sandbox, http) -> None:
    evolved = sandbox.new_tenant(seed=5, sizes={"contacts": 3}, evolve=9)
    kind = evolved.info["evolved"]["events"]["contacts"]
    record = evolved.records("contacts")[1]
    evolved.update("contacts", record["id"], {"first_name": "Ada"})
    feed = http.get(f"{evolved.base_url}/v1/events", headers=bearer(http, evolved)).json()
    types = [e["type"] for e in feed["data"]]
    assert types == ["contact.updated", kind]  # right after the update, about the same record
    assert feed["data"][1]["object"] == feed["data"][0]["object"]
    assert feed["data"][1]["object"]["first_name"] == "Ada"
    assert all(not e.response_violations for e in evolved.requests())  # contract-true when evolved
    assert [c.type for c in evolved.changes()] == ["updated", kind.partition(".")[2]]
    stored = {r["id"]: r for r in evolved.records("contacts")}
    assert stored[record["id"]] == feed["data"][0]["object"]  # announcing changed nothing
    plain = sandbox.new_tenant(seed=5, sizes={"contacts": 3})
    plain.update("contacts", plain.records("contacts")[1]["id"], {"first_name": "Ada"})
    assert [c.type for c in plain.changes()] == ["updated"]
