"""Short campaigns (seconds, fixed seeds) through the `harness fuzz` command, in this process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLAWED = ROOT / "tests" / "connectors" / "flawed"
REFERENCE = ROOT / "examples" / "acme_sync"
FUZZ_CONNECTORS = ROOT / "tests" / "fuzz" / "connectors"  # flawed in ways only a campaign shows


@dataclass
class Result:
    status: int
    out: str
    err: str
    dir: Path

    @property
    def report(self) -> dict:
        return json.loads((self.dir / "report.json").read_text())

    @property
    def findings(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.dir / "findings").glob("*.json"))]


def fuzz(capsys: pytest.CaptureFixture[str] | None, *args: str) -> tuple[int, str, str]:
    """`harness fuzz ARGS`: its exit status and output (none without capsys: module fixtures)."""
    from harness.cli import main

    try:
        status = main(["fuzz", *args])
    except SystemExit as exc:  # argparse usage errors
        status = int(exc.code or 0)
    if capsys is None:
        return status, "", ""
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def campaign(
    capsys: pytest.CaptureFixture[str] | None,
    directory: Path,
    connector: Path,
    targets: str,
    budget: str,
    *extra: str,
) -> Result:
    status, out, err = fuzz(
        capsys,
        "--connector",
        str(connector),
        "--targets",
        targets,
        "--budget",
        budget,
        "--seed",
        "3",
        "--dir",
        str(directory),
        *extra,
    )
    return Result(status, out, err, directory)
