"""Every check proven both ways.

The reference connectors pass the whole catalogue; each connector under
tests/connectors/flawed/ carries exactly one defect and an `expect.toml` naming the check that
must catch it, words its message must contain, and (`also`) any other check it fails for a
stated, real reason; `contract` names the platform contract when it is not the bundled one;
`with` names checks to run beside it whose scenario the defect needs (SEC-01 judges their output).
A flawed connector is run against its own check and the `also` checks;
anything else it would fail is caught by the full-catalogue run of `make matrix`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLAWED = ROOT / "tests" / "connectors" / "flawed"
# (reference connector, its platform contract: None for the bundled one), one per contract shape
REFERENCE = [
    (ROOT / "examples" / "acme_sync", None),
    (ROOT / "examples" / "acme_sync_cli", None),
    (ROOT / "examples" / "ticketing_sync", "tests/contracts/ticketing_like.openapi.yaml"),
    (ROOT / "examples" / "hubspot_sync", "tests/contracts/hubspot_like.openapi.yaml"),
    (ROOT / "examples" / "stripe_sync", "tests/contracts/stripe_like.openapi.yaml"),
    (ROOT / "examples" / "github_sync", "tests/contracts/github_like.openapi.yaml"),
    (ROOT / "examples" / "inventory_mtls_sync", "tests/contracts/inventory_mtls.openapi.yaml"),
]

pytestmark = pytest.mark.slow


def flawed() -> list[tuple[str, dict]]:
    out = []
    for folder in sorted(p for p in FLAWED.iterdir() if (p / "expect.toml").is_file()):
        out.append((folder.name, tomllib.loads((folder / "expect.toml").read_text())))
    return out


def certify(pytester: pytest.Pytester, connector: Path, *args: str) -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--connector={connector}",
        "--seed=7",
        "--cert-report=cert.json",
        "--cert-level=strict",
        *args,
        timeout=600,
    )
    report = pytester.path / "cert.json"
    if not report.exists():
        return result, {}
    from harness.report import read_certificate

    return result, read_certificate(report)[1]["predicate"]


def contract_args(expect: dict) -> list[str]:
    """`contract = "tests/contracts/X"` in expect.toml: the connector is for that platform."""
    return [f"--contract={ROOT / expect['contract']}"] if "contract" in expect else []


@pytest.mark.parametrize(("connector", "contract"), REFERENCE, ids=[p.name for p, _ in REFERENCE])
def test_the_reference_connectors_pass_every_check(
    pytester: pytest.Pytester, connector: Path, contract: str | None
) -> None:
    result, cert = certify(pytester, connector, *contract_args({"contract": contract} if contract else {}))
    failed = {
        c["id"]: c["message"]
        for c in cert.get("checks", [])
        if c["status"] not in ("passed", "not_applicable")
    }
    assert failed == {}, result.stdout.str()[-3000:]
    assert cert["verdict"] == "certified"


@pytest.mark.parametrize(("name", "expect"), flawed(), ids=[name for name, _ in flawed()])
def test_each_flawed_connector_fails_the_check_it_targets(
    pytester: pytest.Pytester, name: str, expect: dict
) -> None:
    also = dict(expect.get("also", {}))
    checks = ",".join([expect["check"], *also, *expect.get("with", [])])  # `with`: run beside it
    result, cert = certify(pytester, FLAWED / name, f"--checks={checks}", *contract_args(expect))
    outcome = {c["id"]: c for c in cert["checks"]}
    target = outcome[expect["check"]]
    assert target["status"] == "failed", result.stdout.str()[-3000:]
    assert expect["words"] in target["message"]
    for check_id, reason in also.items():  # inconclusive: blocked by a root cause another check names
        assert outcome[check_id]["status"] in ("failed", "inconclusive"), (
            f"{check_id} was expected to fail too: {reason}"
        )
    assert cert["verdict"] == "not certified"
    assert "Reproduce with:" in result.stdout.str() and "--seed=7" in result.stdout.str()
