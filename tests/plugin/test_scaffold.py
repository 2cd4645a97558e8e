"""`harness init` output certifies at the basic level for the bundled contract, as generated."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["--python", "--command"])
def test_a_scaffolded_connector_is_certified_at_basic_level(pytester: pytest.Pytester, kind: str) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "harness.cli", "init", kind, "new-sync"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert (pytester.path / "new-sync" / ".github" / "workflows" / "certify.yml").is_file()
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--connector=new-sync",
        "--cert-level=basic",
        "--seed=7",
        "--cert-report=cert.json",
        timeout=300,
    )
    assert result.ret == 0, result.stdout.str()
    from harness.report import read_certificate

    predicate = read_certificate(pytester.path / "cert.json")[1]["predicate"]
    assert predicate["verdict"] == "certified"
    statuses = {c["id"]: c["status"] for c in predicate["checks"]}
    assert statuses == {
        "AUTH-01": "passed",
        "CON-01": "passed",
        "INT-01": "passed",
        "INT-02": "passed",
        "WH-01": "not_applicable",
        "WH-02": "not_applicable",
        "SEC-01": "passed",
    }, json.dumps(statuses)


def test_a_certification_writes_nothing_but_its_reports(pytester: pytest.Pytester) -> None:
    """Hypothesis-driven checks (INT-05, RES-04) leave no .hypothesis folder in the working directory."""
    from tests.conftest import ROOT

    before = set(pytester.path.iterdir())
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--connector={ROOT / 'examples' / 'acme_sync'}",
        "--cert-level=strict",
        "--checks=INT-05,RES-04",
        "--seed=3",
        "--cert-report=cert.json",
        timeout=300,
    )
    result.assert_outcomes(passed=2)
    new = {p.name for p in set(pytester.path.iterdir()) - before}  # less pytester's capture and basetemp:
    pytester_own = {"stdout", "stderr"} | {n for n in new if n.startswith("runpytest-")}
    assert new - pytester_own == {"cert.json"}
