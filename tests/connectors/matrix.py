"""The full matrix: every flawed connector against the whole catalogue (`make matrix`).

The test suite runs each flawed connector against its own check and the `[also]` checks of its
expect.toml; this script runs everything and reports any other check a connector fails, so the
`also` lists stay true. Prints one line per connector; exits 1 when something is off.
Usage: tests/connectors/matrix.py [SEED [NAME ...]]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLAWED = ROOT / "tests" / "connectors" / "flawed"


def run(connector: Path, seed: int, contract: str | None = None) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "cert.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--connector={connector}",
                f"--seed={seed}",
                "--cert-level=strict",
                f"--cert-report={report}",
                *([f"--contract={ROOT / contract}"] if contract else []),
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=900,
        )
        from harness.report import read_certificate

        predicate = read_certificate(report)[1]["predicate"]
    return {
        c["id"]: c["message"]
        for c in predicate["checks"]
        if c["status"] in ("failed", "error", "inconclusive")
    }


def main(seed: int = 7, names: list[str] | None = None) -> int:
    bad = 0
    for folder in sorted(p for p in FLAWED.iterdir() if (p / "expect.toml").is_file()):
        if names and folder.name not in names:
            continue
        expect = tomllib.loads((folder / "expect.toml").read_text())
        failed = run(folder, seed, expect.get("contract"))
        also = set(expect.get("also", {}))
        unexpected = sorted(set(failed) - {expect["check"]} - also)
        missing = sorted(({expect["check"]} | also) - set(failed))
        ok = not unexpected and not missing and expect["words"] in failed.get(expect["check"], "")
        bad += not ok
        print(
            f"{'ok ' if ok else 'BAD'} {folder.name:<32} {expect['check']:<8} also={sorted(also)} "
            f"unexpected={unexpected} missing={missing}",
            flush=True,
        )
        for check_id in unexpected:
            print(f"      {check_id}: {failed[check_id][:200]}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    # tests/connectors/matrix.py [SEED [NAME ...]]
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7, sys.argv[2:]))
