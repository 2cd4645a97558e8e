from __future__ import annotations

import subprocess
import sys

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
