"""The generator against the validator: every value made for a schema must validate against it.

Runs over every schema of every contract under tests/contracts/ (published specs added under
tests/contracts/real/ are picked up automatically), and with HARNESS_SCHEMA_CORPUS=<folder> over
every OpenAPI document in that folder (e.g. the APIs.guru directory) as an opt-in larger run.
"""

from __future__ import annotations

import base64
import os
import re
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.contract import load
from harness.synth import Dataset, SynthError
from tests.conftest import ROOT
from tests.unit.synth_schemas import check_contract, contract_files

CONTRACTS = [*contract_files(ROOT / "tests" / "contracts"), ROOT / "contracts" / "platform.openapi.yaml"]
CORPUS = os.environ.get("HARNESS_SCHEMA_CORPUS")


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_schema_of_every_checked_in_contract_gets_valid_values(path):
    tally = check_contract(path, values_per_schema=5)
    assert tally.schemas > 0
    assert tally.crashes == [] and tally.refused == [] and tally.invalid == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), which=st.sampled_from(CONTRACTS))
def test_values_validate_whatever_the_seed(seed, which):
    tally = check_contract(which, values_per_schema=1, seed=seed)
    assert tally.crashes == [] and tally.invalid == []


@pytest.mark.skipif(not CORPUS, reason="set HARNESS_SCHEMA_CORPUS to a folder of OpenAPI documents")
@pytest.mark.parametrize(
    "path",
    contract_files(Path(CORPUS)) if CORPUS else [],
    ids=lambda p: str(p.relative_to(CORPUS)) if CORPUS else str(p),
)
def test_every_schema_of_a_corpus_gets_valid_values(path):
    tally = check_contract(path, values_per_schema=2, budget_s=120)
    print(
        f"{path.name}: {tally.schemas} schemas, {tally.values} values, {len(tally.invalid)} invalid, "
        f"{len(tally.crashes)} crashes, {len(tally.refused)} refused"
    )
    assert tally.crashes == [], tally.crashes[:5]
    # Published specs hold schemas no value satisfies the way the validator reads them (oneOf
    # branches that overlap whatever is generated, additionalProperties: false beside branches
    # that need other fields); those stay listed, within a small share.
    assert len(tally.invalid) <= 0.02 * max(tally.values, 1), tally.invalid[:5]


# -- the shapes real specs use, one contract ------------------------------------------------------

SHAPES = """\
openapi: 3.0.3
info: {title: Shapes, version: "1"}
paths:
  /nodes:
    get:
      responses:
        "200":
          description: nodes
          content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Node"}}}}
  /nodes/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: a node
          content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}
components:
  schemas:
    Node:
      type: object
      required: [id, created, kind, children, pet]
      properties:
        id: {type: integer, format: int64}
        created: {type: integer, description: Unix seconds}
        updated_at: {type: string, format: date-time}
        kind: {type: string, pattern: '\\A(leaf|branch)\\Z'}
        parent: {allOf: [{$ref: "#/components/schemas/Node"}], description: recursion by allOf}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
        expandable: {anyOf: [{type: string, maxLength: 5}, {$ref: "#/components/schemas/Node"}]}
        pet: {$ref: "#/components/schemas/Pet"}
        amount: {type: string, format: decimal}
        blob: {type: string, format: byte}
        ratio: {type: number, minimum: 0, maximum: 1, exclusiveMinimum: true, exclusiveMaximum: true}
        price: {type: number, multipleOf: 0.01, minimum: 0.5, maximum: 3}
        window: {type: string, format: duration}
        at: {type: string, format: time}
        host: {type: string, format: hostname}
        email: {type: string, format: email, x-faker: {provider: company}}
        tags:
          {type: array, uniqueItems: true, minItems: 3, maxItems: 3, items: {type: string, enum: [a, b, c]}}
        labels:
          type: object
          minProperties: 2
          additionalProperties: {type: integer, minimum: 1}
        not_a_string: {not: {type: string}}
        secret: {type: string, writeOnly: true}
    Pet:
      oneOf: [{$ref: "#/components/schemas/Cat"}, {$ref: "#/components/schemas/Dog"}]
      discriminator:
        propertyName: pet_type
        mapping: {cat: "#/components/schemas/Cat", dog: "#/components/schemas/Dog"}
    Cat:
      type: object
      required: [pet_type]
      properties: {pet_type: {type: string, enum: [cat]}, lives: {type: integer, minimum: 1, maximum: 9}}
    Dog:
      type: object
      required: [pet_type]
      properties: {pet_type: {type: string, enum: [dog]}, bark: {type: boolean}}
"""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    path = tmp_path_factory.mktemp("shapes") / "shapes.openapi.yaml"
    path.write_text(SHAPES)
    return load(path, check=False)  # `\\A..\\Z` is the contract helper's to accept (issue 12)


def test_a_recursive_contract_makes_a_tenant_whose_records_all_validate(shapes):
    ds = Dataset(shapes, seed=3, sizes={"nodes": 200})
    validator = shapes.validator(shapes.collections["nodes"].item_schema_uri)
    for record in ds.records("nodes"):
        assert [e.message for e in validator.iter_errors(record)] == [], record


def test_values_follow_their_schema_type_and_format(shapes):
    # the generator's values, every field of them: tidy, so none is left out (harness.synth.untidy)
    ds = Dataset(shapes, seed=5, sizes={"nodes": 50}, adversarial=False)
    records = list(ds.records("nodes"))
    assert [r["id"] for r in records[:3]] == [1, 2, 3]  # an integer id, not "nod_1"
    assert ds.index_of("nodes", "2") == 1 and ds.index_of("nodes", 2) == 1
    for r in records:
        assert isinstance(r["created"], int) and 1_600_000_000 < r["created"] < 1_800_000_000
        assert r["kind"] in ("leaf", "branch")
        assert re.fullmatch(r"\d+\.\d{2}", r["amount"])
        base64.b64decode(r["blob"], validate=True)
        assert 0 < r["ratio"] < 1
        assert "secret" not in r
        assert r["pet"]["pet_type"] in ("cat", "dog")
        assert "@" in r["email"]  # the company name the hint gives is no email: schema wins
        assert sorted(r["tags"]) == ["a", "b", "c"]
        assert len(r["labels"]) >= 2
        assert not isinstance(r["not_a_string"], str)
        datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00"))


def test_recursion_is_bounded_in_depth(shapes):
    ds = Dataset(shapes, seed=1, sizes={"nodes": 30})

    def depth(value, level=0):
        if isinstance(value, dict):
            return max([level, *(depth(v, level + 1) for v in value.values())])
        if isinstance(value, list):
            return max([level, *(depth(v, level + 1) for v in value)])
        return level

    assert max(depth(r) for r in ds.records("nodes")) <= 12


def test_uuid_ids_round_trip(tmp_path):
    path = tmp_path / "u.openapi.yaml"
    path.write_text(
        SHAPES.replace("schema: {type: integer}}]", "schema: {type: string}}]").replace(
            "id: {type: integer, format: int64}", "id: {type: string, format: uuid}"
        )
    )
    contract = load(path, check=False)
    ds = Dataset(contract, seed=9, sizes={"nodes": 500})
    ids = [ds.id_of("nodes", i) for i in range(500)]
    assert len(set(ids)) == 500
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i) for i in ids
    )
    assert [ds.index_of("nodes", i) for i in ids] == list(range(500))
    assert ds.index_of("nodes", "00000000-0000-4000-8000-000000000000") is None


def test_a_required_field_that_is_its_own_schema_is_refused_with_the_pointer(tmp_path):
    path = tmp_path / "loop.openapi.yaml"
    path.write_text(
        SHAPES.replace("required: [id, created, kind, children, pet]", "required: [id, loop]").replace(
            '        pet: {$ref: "#/components/schemas/Pet"}\n',
            '        pet: {$ref: "#/components/schemas/Pet"}\n'
            '        loop: {$ref: "#/components/schemas/Node"}\n',
        )
    )
    with pytest.raises(SynthError, match="nests forever") as info:
        Dataset(load(path, check=False), sizes={"nodes": 5})
    assert info.value.pointer == "/components/schemas/Node"


def test_the_time_field_of_a_record_keeps_its_type_through_writes(shapes):
    from harness.synth import Overlay

    ds = Dataset(shapes, seed=2, sizes={"nodes": 5})
    created = Overlay(ds).create("nodes")
    assert isinstance(created["created"], int)


def test_shapes_contract_text_is_what_the_test_says():
    assert "recursion by allOf" in textwrap.dedent(SHAPES)


def test_a_required_field_no_value_satisfies_still_makes_a_tenant(tmp_path):
    # Published specs have these (Vercel: `type: "null"` beside a oneOf of strings and numbers).
    path = tmp_path / "never.openapi.yaml"
    path.write_text(
        SHAPES.replace("required: [id, created, kind, children, pet]", "required: [id, never]").replace(
            '        pet: {$ref: "#/components/schemas/Pet"}\n',
            '        pet: {$ref: "#/components/schemas/Pet"}\n'
            "        never: {type: string, enum: [1, 2]}\n"
            "        optional_never: {oneOf: [{type: string}, {type: number}], type: boolean}\n",
        )
    )
    ds = Dataset(load(path, check=False), sizes={"nodes": 5})
    records = list(ds.records("nodes"))
    assert records and all(r["never"] is None and r.get("optional_never") is None for r in records)
