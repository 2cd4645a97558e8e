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
