"""Wall time of `make certify`'s run: the whole strict catalogue on both reference connectors.

Prints seconds per connector (target from issue 8: under 60 s on this 2-core machine for
examples/acme_sync) and the slowest checks. Asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def certify(connector: str) -> tuple[float, list[tuple[float, str]]]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "cert.json"
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--connector={connector}",
                "--cert-level=strict",
                "--seed=1",
                f"--cert-report={report}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - started
        sys.path.insert(0, str(ROOT))
        from harness.report import read_certificate

        checks = read_certificate(report)[1]["predicate"]["checks"]
    return wall, sorted(((c["duration"], c["id"]) for c in checks), reverse=True)


def main() -> None:
    for connector in ("examples/acme_sync", "examples/acme_sync_cli"):
        wall, durations = certify(connector)
        slowest = ", ".join(f"{check} {seconds:.1f} s" for seconds, check in durations[:5])
        target = "  (target < 60 s)" if connector == "examples/acme_sync" else ""
        print(f"{connector:<24} whole strict catalogue: {wall:5.1f} s wall{target}; slowest: {slowest}")


if __name__ == "__main__":
    main()
