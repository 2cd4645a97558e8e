from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from harness.checks import REGISTRY
from harness.lint import CONNECTOR_CONDITIONS
from tests.conftest import CONTRACTS, ROOT


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_lint_passes_the_reference_contract_and_describes_it():
    result = harness("contract", "lint", "contracts/platform.openapi.yaml")
    assert result.returncode == 0, result.stderr
    assert "11 operations, 3 webhooks" in result.stdout
    assert "collection contacts: /v1/contacts + /v1/contacts/{id}" in result.stdout


def test_lint_fails_a_broken_contract_and_names_the_pointer():
    result = harness("contract", "lint", str(CONTRACTS / "broken" / "bad_ref.yaml"))
    assert result.returncode == 1
    assert "bad_ref.yaml#/paths/~1widgets~1{widget_id}/get/responses/200" in result.stderr
    assert "fix:" in result.stderr


def test_bare_command_prints_help_and_fails():
    result = harness()
    assert result.returncode == 2
    assert "contract" in result.stderr


def test_lint_describes_what_it_inferred_for_a_vendor_shaped_contract():
    result = harness("contract", "lint", "tests/contracts/shapes/vendor.openapi.yaml")
    assert result.returncode == 0, result.stderr
    assert (
        "collection customers: /v1/customers + /v1/customers/{customer}, id 'id' (string) from {customer}, "
        "envelope data, paging id via starting_after/limit, more in has_more"
    ) in result.stdout
    assert "writes create 200, update 200, delete 200" in result.stdout
    assert "collection financial_connections_accounts: /v1/financial_connections/accounts" in result.stdout
    assert "id 'number' (integer) from {number}, envelope (bare array)" in result.stdout
    assert "scoped by {networkId}" in result.stdout
    assert (
        "operations: 6 list, 6 read, 2 create, 2 update, 2 delete, 1 action, 1 singleton, 1 other"
        in result.stdout
    )


def test_lint_refuses_a_bad_pattern_at_its_pointer_with_the_fix():
    result = harness("contract", "lint", str(CONTRACTS / "broken" / "ecma_invalid_pattern.yaml"))
    assert result.returncode == 1
    pointer = "ecma_invalid_pattern.yaml#/paths/~1widgets/get/responses/200/content/application~1json"
    assert pointer + "/schema/properties/code/pattern: pattern '^a++$' is not an ECMA-262" in result.stderr
    assert "fix: write it in ECMA-262 syntax" in result.stderr


# -- the vendor's checklist ---------------------------------------------------------------------


def lint_json(path: str, *args: str) -> tuple[int, dict]:
    result = harness("contract", "lint", path, "--format", "json", *args)
    return result.returncode, json.loads(result.stdout)


def test_json_report_follows_its_schema_and_lists_every_check(tmp_path):
    schema = json.loads((ROOT / "contracts" / "lint.schema.json").read_text())
    for path in (
        "contracts/platform.openapi.yaml",
        "tests/contracts/ticketing.openapi.json",
        str(CONTRACTS / "broken" / "bad_ref.yaml"),
        str(write_no_collection(tmp_path)),
    ):
        code, report = lint_json(path)
        jsonschema.validate(report, schema)
        assert report["ok"] is (code == 0)
    code, report = lint_json("contracts/platform.openapi.yaml")
    assert code == 0 and report["errors"] == []
    assert [c["id"] for c in report["checks"]] == [c.id for c in REGISTRY.select(level="strict")]
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["WH-01"]["applies"] == "if" and "webhooks" in by_id["WH-01"]["condition"]
    assert by_id["INT-01"]["applies"] == "yes"


def test_a_check_the_contract_cannot_offer_says_why_and_the_fix(tmp_path):
    code, report = lint_json("tests/contracts/ticketing.openapi.json")
    assert code == 0
    by_id = {c["id"]: c for c in report["checks"]}
    wh = by_id["WH-01"]
    assert (wh["applies"], wh["offer"]) == ("no", "webhooks")
    assert "declares no webhooks" in wh["reason"] and "webhooks:" in wh["fix"]
    assert by_id["AUTH-03"]["offer"] == "expiring_tokens" and "tokenUrl" in by_id["AUTH-03"]["fix"]
    assert by_id["CON-03"]["applies"] == "if" and "pushes" in by_id["CON-03"]["condition"]


def test_level_limits_the_list():
    _, report = lint_json("contracts/platform.openapi.yaml", "--level", "basic")
    assert {c["level"] for c in report["checks"]} == {"basic"}
    assert len(report["checks"]) == len(REGISTRY.select(level="basic"))


def test_a_collection_without_updated_at_is_a_warning_with_the_hint_and_strict_fails_it():
    path = str(CONTRACTS / "inventory.openapi.yaml")
    code, report = lint_json(path)
    assert code == 0
    (warning,) = [w for w in report["warnings"] if "warehouses" in w["message"]]
    assert warning["pointer"] == "/paths/~1warehouses/get/x-sandbox"
    assert "`x-sandbox: {updated_at: " in warning["fix"]
    assert {c["name"]: c["updated_field"] for c in report["collections"]}["warehouses"] is None
    text = harness("contract", "lint", path)
    assert "None" not in text.stdout + text.stderr
    assert "warning: " in text.stderr and "fix: name the field with `x-sandbox: {updated_at:" in text.stderr
    assert harness("contract", "lint", path, "--strict").returncode == 1


def test_the_updated_at_hint_lint_suggests_is_the_one_inference_reads(tmp_path):
    import yaml

    doc = yaml.safe_load((CONTRACTS / "inventory.openapi.yaml").read_text())
    doc["paths"]["/warehouses"]["get"]["x-sandbox"] = {"updated_at": "name"}
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, report = lint_json(str(path))
    assert code == 0
    assert not [w for w in report["warnings"] if "warehouses" in w["message"]]
    assert {c["name"]: c["updated_field"] for c in report["collections"]}["warehouses"] == "name"


def write_no_collection(tmp_path) -> Path:
    path = tmp_path / "status.yaml"
    path.write_text(
        "openapi: 3.1.0\ninfo: {title: Status, version: '1'}\npaths:\n  /status:\n    get:\n"
        "      operationId: getStatus\n      responses:\n        '200':\n          description: ok\n"
        "          content: {application/json: {schema: {type: object}}}\n"
    )
    return path


def test_a_contract_with_no_collection_is_an_error(tmp_path):
    path = write_no_collection(tmp_path)
    result = harness("contract", "lint", str(path))
    assert result.returncode == 1
    assert "status.yaml#/paths: the contract has no collection" in result.stderr
    assert "fix: document a list operation" in result.stderr


@pytest.mark.parametrize(
    ("hint", "words"),
    [
        ("oops", "`x-sandbox` is str 'oops', not a mapping"),
        ({"id": "nosuch"}, "/x-sandbox/id: `id: nosuch` is not a tickets record field"),
        ({"updated_at": "updatd_at"}, "did you mean 'updated_at'?"),
        ({"since": "nosuch"}, "`since: nosuch` is not a query parameter"),
        ({"pagination": {"style": "bogus"}}, "paging style 'bogus'"),
        ({"data": "entries"}, "`data: entries` names no array of records"),
    ],
)
def test_an_unusable_hint_is_an_error_at_its_pointer(tmp_path, hint, words):
    doc = json.loads((CONTRACTS / "ticketing.openapi.json").read_text())
    doc["paths"]["/tickets"]["get"]["x-sandbox"] = hint
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    result = harness("contract", "lint", str(path))
    assert result.returncode == 1, result.stdout
    assert "t.json#/paths/~1tickets/get/x-sandbox" in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_hint_key_is_a_warning_with_the_likely_name(tmp_path):
    doc = json.loads((CONTRACTS / "ticketing.openapi.json").read_text())
    doc["paths"]["/tickets"]["get"]["x-sandbox"] = {"updated": "updated_at"}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    code, report = lint_json(str(path))
    assert code == 0
    assert report["warnings"] == [
        {
            "pointer": "/paths/~1tickets/get/x-sandbox/updated",
            "message": "the sandbox reads no hint 'updated' on a list operation",
            "fix": "did you mean 'updated_at'?",
        }
    ]


def test_connector_conditions_name_catalogue_checks():
    assert set(CONNECTOR_CONDITIONS) <= {c.id for c in REGISTRY.all()}


def test_a_folder_is_an_error_not_an_encoding_problem():
    result = harness("contract", "lint", "tests/contracts")
    assert result.returncode == 1
    assert "is a folder, not a contract" in result.stderr
