"""Saved findings as pytest items that run before the catalogue: a fixed bug stays fixed.

`pytest --connector=X --fuzz-findings=CAMPAIGN` adds `fuzz-findings::<id>` per finding of the
campaign (or of a findings folder, or one finding file), each replaying the finding's minimal
input on the certification's own sandbox and connector; it fails while the defect is still there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import HarnessError
from harness.fuzz.campaign import replay
from harness.fuzz.findings import Finding, FindingError, read_finding
from harness.fuzz.target import Limits
from harness.fuzz.world import World


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
        outcome = replay(world, self.finding, Limits(memory_mib=512))
        same = [p for p in outcome.problems if p.key == self.finding.key]
        if same:
            raise FindingStillFails(session.masker.text(same[0].message))

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
