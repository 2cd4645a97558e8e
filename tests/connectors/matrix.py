"""The full matrix: every flawed connector against the whole catalogue (`make matrix`).

The test suite runs each flawed connector against its own check and the `[also]` checks of its
expect.toml; this script runs everything and reports any other check a connector fails, so the
`also` lists stay true; a check reported inconclusive (blocked by the root cause another check
names) is counted apart, as neither expected nor unexpected. Prints one line per connector;
exits 1 when something is off.
Certifications run MATRIX_JOBS at a time (default: two per core).
Usage: tests/connectors/matrix.py [SEED [NAME ...]]
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: `tests.connectors.certify` from the checkout

from tests.connectors.certify import in_order, outcomes  # noqa: E402

FLAWED = ROOT / "tests" / "connectors" / "flawed"


def main(seed: int = 7, names: list[str] | None = None) -> int:
    bad = 0
    folders = [
        p
        for p in sorted(FLAWED.iterdir())
        if (p / "expect.toml").is_file() and (not names or p.name in names)
    ]

    def run(folder: Path) -> tuple[dict, dict[str, dict[str, str]]]:
        expect = tomllib.loads((folder / "expect.toml").read_text())
        return expect, outcomes(folder, seed, expect.get("contract"))[1]

    for folder, (expect, checks) in in_order(run, folders):
        failed = {i: c["message"] for i, c in checks.items() if c["status"] in ("failed", "error")}
        # blocked: inconclusive, its scenario ran into the defect another check names (root causes)
        blocked = sorted(i for i, c in checks.items() if c["status"] == "inconclusive")
        also = set(expect.get("also", {}))
        unexpected = sorted(set(failed) - {expect["check"]} - also)
        missing = sorted(({expect["check"]} | also) - set(failed) - set(blocked))
        ok = not unexpected and not missing and expect["words"] in failed.get(expect["check"], "")
        bad += not ok
        print(
            f"{'ok ' if ok else 'BAD'} {folder.name:<32} {expect['check']:<8} also={sorted(also)} "
            f"unexpected={unexpected} missing={missing} blocked={len(blocked)}",
            flush=True,
        )
        for check_id in unexpected:
            print(f"      {check_id}: {failed[check_id][:200]}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    # tests/connectors/matrix.py [SEED [NAME ...]]
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7, sys.argv[2:]))
