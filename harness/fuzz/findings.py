"""Findings that last: the campaign directory and what is kept in it.

    CAMPAIGN/campaign.json     the campaign's settings and totals (what --resume continues)
    CAMPAIGN/hypothesis/       hypothesis's example database (failures and targeted examples)
    CAMPAIGN/failures.jsonl    every failing example seen, shrinking steps included
    CAMPAIGN/findings/*.json   one file per unique finding: oracle, location, minimal input, replay
    CAMPAIGN/report.json|html  the report of the last run

A finding is unique by its oracle and location (`crash:UnicodeEncodeError at x.py:16 in _store`),
so the same defect reached by other inputs or another target is counted, not filed again.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError

FORMAT = "connector-harness/fuzz-finding/v1"


class FindingError(HarnessError, ValueError):
    """A finding file that cannot be read or replayed; the message names the file and the fix."""


@dataclass
class Finding:
    key: str  # oracle:location, what findings are deduplicated by
    oracle: str
    target: str
    message: str
    input: dict[str, Any]  # the minimal failing input (shrunk by hypothesis), as the target takes it
    described: str  # that input in words
    connector: str  # the --connector it was found with
    contract: str | None  # the --contract, None for the bundled one
    found_after: float  # seconds into the campaign
    examples_before: int  # examples run before it was found
    seen: int = 1  # failing examples with this key (the shrinking steps included)
    flaky: bool = False  # the minimal input did not fail again when hypothesis replayed it
    format: str = FORMAT
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha256(self.key.encode()).hexdigest()[:10]
            self.id = f"{self.oracle}-{digest}"

    def replay_command(self, path: Path) -> str:
        parts = ["harness", "fuzz", "--connector", self.connector]
        if self.contract:
            parts += ["--contract", self.contract]
        return shlex.join([*parts, "--replay", str(path)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CampaignDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def findings_dir(self) -> Path:
        return self.root / "findings"

    @property
    def database_dir(self) -> Path:
        return self.root / "hypothesis"

    @property
    def state_file(self) -> Path:
        return self.root / "campaign.json"

    def create(self) -> None:
        self.findings_dir.mkdir(parents=True, exist_ok=True)
        self.database_dir.mkdir(parents=True, exist_ok=True)

    def load_state(self) -> dict[str, Any] | None:
        if not self.state_file.is_file():
            return None
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise FindingError(f"{self.state_file}: not a campaign state file ({exc})") from None

    def save_state(self, state: dict[str, Any]) -> None:
        _write(self.state_file, state)

    def findings(self) -> list[Finding]:
        if not self.findings_dir.is_dir():
            return []
        return [read_finding(p) for p in sorted(self.findings_dir.glob("*.json"))]

    def path_of(self, finding: Finding) -> Path:
        return self.findings_dir / f"{finding.id}.json"

    def save(self, finding: Finding) -> Path:
        path = self.path_of(finding)
        _write(path, {**finding.to_dict(), "replay": finding.replay_command(path)})
        return path

    def record_failure(self, target: str, key: str, example: dict[str, Any]) -> None:
        with (self.root / "failures.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps({"target": target, "key": key, "input": example}, sort_keys=True) + "\n")


def read_finding(path: Path) -> Finding:
    """A finding file, checked: a clear error naming the file and the field, never a traceback."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FindingError(f"{path}: cannot read the finding ({exc.strerror})") from None
    except ValueError as exc:
        raise FindingError(f"{path}: not JSON ({exc}); pass a file from CAMPAIGN/findings/") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FindingError(f"{path}: not a fuzz finding (its format is not {FORMAT!r})")
    known = {f for f in Finding.__dataclass_fields__}
    missing = sorted({"key", "oracle", "target", "input"} - set(data))
    if missing:
        raise FindingError(f"{path}: the finding lacks {', '.join(missing)}")
    if not isinstance(data["input"], dict):
        raise FindingError(f"{path}: `input` must be an object (the minimal input of the finding)")
    values = {k: v for k, v in data.items() if k in known}
    values.setdefault("message", "")
    values.setdefault("described", "")
    values.setdefault("connector", "")
    values.setdefault("contract", None)
    values.setdefault("found_after", 0.0)
    values.setdefault("examples_before", 0)
    return Finding(**values)


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
