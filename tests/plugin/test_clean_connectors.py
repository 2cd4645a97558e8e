"""Correct connectors in four styles the reference connectors do not show certify at strict level.

tests/connectors/clean/ holds connectors written from the README and docs/connector-protocol.md
alone: requests with a urllib3 Retry, async httpx with parallel streams, a Node.js command
connector and a stdlib-only Python command connector. Each is certified once (seed 1; `make
clean-matrix` runs seeds 1-3). A check that fails one of them is either a defect of the
connector (the test fails) or a false verdict of the check, listed with its diagnosis in
clean/false_verdicts.toml: then the test is an xfail that names the check, strict where the
false verdict is deterministic, so it flips as soon as the check is fixed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.connectors.clean_matrix import certify, connectors, known_false_verdicts

SEED = 1
KNOWN = known_false_verdicts()

pytestmark = pytest.mark.slow


class FalseVerdict(AssertionError):
    """Only checks listed in false_verdicts.toml failed: what the xfail marks expect."""


def _connector_cases() -> list[object]:
    cases = []
    for folder in connectors():
        listed = KNOWN.get(folder.name, {})
        marks = []
        if listed:
            strict = any(entry["strict"] for entry in listed.values())
            marks.append(
                pytest.mark.xfail(
                    raises=FalseVerdict,
                    strict=strict,
                    reason="false verdict of "
                    + ", ".join(
                        f"{check} ({'always' if e['strict'] else 'under CPU load'})"
                        for check, e in listed.items()
                    ),
                )
            )
        if folder.name == "node_cli" and shutil.which("node") is None:
            marks.append(pytest.mark.skip(reason="node is not installed"))
        cases.append(pytest.param(folder, marks=marks, id=folder.name))
    return cases


def _strict_false_verdicts() -> list[object]:
    return [
        pytest.param(
            name,
            check,
            marks=pytest.mark.xfail(
                raises=FalseVerdict, strict=True, reason=str(entry["reason"]).split(".")[0]
            ),
            id=f"{name}-{check}",
        )
        for name, checks in KNOWN.items()
        for check, entry in checks.items()
        if entry["strict"]
    ]


@pytest.fixture(scope="module")
def certificates() -> dict[str, tuple[str, dict[str, str]]]:
    return {}


def _certified(
    certificates: dict[str, tuple[str, dict[str, str]]], folder: Path
) -> tuple[str, dict[str, str]]:
    if folder.name not in certificates:
        certificates[folder.name] = certify(folder, SEED)
    return certificates[folder.name]


@pytest.mark.parametrize("folder", _connector_cases())
def test_a_clean_connector_is_certified(certificates, folder: Path) -> None:
    verdict, failed = _certified(certificates, folder)
    listed = KNOWN.get(folder.name, {})
    defects = {check: message for check, message in failed.items() if check not in listed}
    assert not defects, f"{folder.name} (a correct connector) failed checks not known to be wrong: {defects}"
    if failed:
        raise FalseVerdict(f"{folder.name} failed only known false verdicts: {sorted(failed)}")
    assert verdict == "certified"


@pytest.mark.parametrize(("name", "check"), _strict_false_verdicts())
def test_a_known_false_verdict_still_fails_the_connector(certificates, name: str, check: str) -> None:
    """Strict xfail: passes (and so fails the suite) once the check no longer fails this correct
    connector, which is the moment to remove its entry from false_verdicts.toml."""
    _, failed = _certified(certificates, Path(__file__).resolve().parents[1] / "connectors" / "clean" / name)
    if check in failed:
        raise FalseVerdict(f"{check}: {failed[check][:300]}")
