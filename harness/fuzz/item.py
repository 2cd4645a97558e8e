"""Saved findings as pytest items that run before the catalogue: a fixed bug stays fixed.

`pytest --connector=X --fuzz-findings=CAMPAIGN` adds `fuzz-findings::<id>` per finding of the
campaign (or of a findings folder, or one finding file), each replaying the finding's minimal
input on the certification's own sandbox and connector; it fails while the defect is still there.
Each records its outcome, which the certificate lists under `fuzz_findings`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import HarnessError
from harness.fuzz.campaign import replay
from harness.fuzz.findings import Finding, FindingError, read_finding
from harness.fuzz.target import Limits
from harness.fuzz.world import World

FINDING_PROPERTY = "harness_fuzz_finding"  # the user property the plugin collects for the certificate


class FindingStillFails(HarnessError, AssertionError):
    pass


def finding_files(spec: str) -> list[Path]:
    """The finding files a `--fuzz-findings` value names (a campaign, its findings/, or one file)."""
    path = Path(spec)
    if path.is_file():
        return [path]
    for folder in (path / "findings", path):
        if folder.is_dir():
            return sorted(folder.glob("*.json"))
    raise FindingError(f"--fuzz-findings {spec}: no such campaign directory or finding file")


def finding_items(parent: pytest.Collector, spec: str, session: Any) -> list[pytest.Item]:
    """One item per finding; `session` is the run's CertificationSession (contract, manifest,
    sandbox, masker)."""
    items: list[pytest.Item] = []
    for path in finding_files(spec):
        finding = read_finding(path)
        items.append(
            FindingItem.from_parent(
                parent,
                name=finding.id,
                finding=finding,
                file=path,
                certification=session,
                nodeid=f"fuzz-findings::{finding.id}",
            )
        )
    return items


class FindingItem(pytest.Item):
    def __init__(self, *, finding: Finding, file: Path, certification: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finding, self.file, self.certification = finding, file, certification

    def runtest(self) -> None:
        session = self.certification
        world = World(
            session.contract, session.manifest, session.sandbox, call_timeout=session.cfg.call_timeout
        )
        try:
            outcome = replay(world, self.finding, Limits(memory_mib=512))
        except Exception as exc:
            self._record("error", f"{type(exc).__name__}: {exc}")
            raise
        same = [p for p in outcome.problems if p.key == self.finding.key]
        if same:
            self._record("still fails", same[0].message)
            raise FindingStillFails(session.masker.text(same[0].message))
        others = "; ".join(p.message for p in outcome.problems)
        self._record("fixed", f"fails otherwise now: {others}" if others else "")

    def _record(self, outcome: str, message: str) -> None:
        """What the certificate says of this finding (`fuzz_findings`): collected from the report,
        so it works the same under xdist."""
        masker = self.certification.masker
        entry = {
            "id": self.finding.id,
            "key": masker.text(self.finding.key),
            "oracle": self.finding.oracle,
            "target": self.finding.target,
            "file": str(self.file),
            "outcome": outcome,  # still fails | fixed | error
            "message": masker.text(message)[:400],
        }
        self.user_properties.append((FINDING_PROPERTY, json.dumps(entry)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, FindingStillFails):
            return (
                f"fuzz finding {self.finding.id} [{self.finding.target}] still fails: {excinfo.value}\n"
                f"  input: {self.finding.described}\n"
                f"  replay: {self.finding.replay_command(self.file)}"
            )
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.file, None, f"fuzz finding {self.finding.id}: {self.finding.message[:80]}"
