"""Wall time of `make certify`'s run: the whole strict catalogue on both reference connectors.

Prints seconds per connector (target from issue 8: under 60 s on this 2-core machine for
examples/acme_sync) and the slowest checks. With `--baseline REV` the same runs are made on a
git worktree of REV in the same invocation, alternating, and the ratio is printed: the anchor of
issue 13 (certification wall time within 1.5x of the in-process connectors, 5a52296). Asserts
nothing.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def certify(connector: str, root: Path = ROOT) -> tuple[float, list[tuple[float, str]], float]:
    """Wall seconds, per-check durations and CPU seconds of the whole process tree."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "cert.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
            cwd=root,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        sys.path.insert(0, str(ROOT))
        from harness.report import read_certificate

        checks = read_certificate(report)[1]["predicate"]["checks"]
    return wall, sorted(((c["duration"], c["id"]) for c in checks), reverse=True), cpu


def worktree(rev: str, folder: Path) -> Path:
    """A checkout of REV to run the baseline from (its own `harness`, imported from the cwd)."""
    path = folder / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also run REV and print the ratio")
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs per side")
    args = parser.parse_args()
    connectors = ("examples/acme_sync", "examples/acme_sync_cli")
    if not args.baseline:
        for connector in connectors:
            wall, durations, cpu = certify(connector)
            slowest = ", ".join(f"{check} {seconds:.1f} s" for seconds, check in durations[:5])
            target = "  (target < 60 s)" if connector == "examples/acme_sync" else ""
            print(
                f"{connector:<24} whole strict catalogue: {wall:5.1f} s wall, {cpu:5.1f} s CPU{target}; "
                f"slowest: {slowest}"
            )
        return
    with tempfile.TemporaryDirectory() as folder:
        base = worktree(args.baseline, Path(folder))
        try:
            for connector in connectors:
                ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
                for _ in range(args.rounds):
                    wall, _, cpu = certify(connector, base)
                    theirs.append(wall)
                    theirs_cpu.append(cpu)
                    wall, _, cpu = certify(connector, ROOT)
                    ours.append(wall)
                    ours_cpu.append(cpu)
                now, then = statistics.median(ours), statistics.median(theirs)
                cpu_now, cpu_then = statistics.median(ours_cpu), statistics.median(theirs_cpu)
                print(
                    f"{connector:<24} now {now:5.1f} s, {args.baseline[:7]} {then:5.1f} s, "
                    f"ratio {now / then:.2f}x (target <= 1.5x); CPU {cpu_now:.1f} s vs "
                    f"{cpu_then:.1f} s, ratio {cpu_now / cpu_then:.2f}x (wall is fair only when idle)"
                )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True
            )


if __name__ == "__main__":
    main()
