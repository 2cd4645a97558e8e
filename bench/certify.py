"""Wall time of `make certify`'s run: the whole strict catalogue on both reference connectors.

By default each connector is certified with its checks one at a time (`--check-workers=1`) and
side by side (the default workers), alternating in one invocation: wall and CPU seconds, the
ratios, whether the verdicts match, and the load average (issue 17's targets: 8 s for
examples/acme_sync, 15 s for the command connector, on an idle machine). With `--baseline REV`
the same runs are made on a git worktree of REV instead of the serial ones, alternating, and the
ratio is printed. With `--workers 2,4` the connector is certified at each `--check-workers`,
alternating, each against the first (where wall time goes when checks wait). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


TARGETS = {"examples/acme_sync": 8.0, "examples/acme_sync_cli": 15.0}  # seconds, idle machine


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def certify(
    connector: str, root: Path = ROOT, *extra: str
) -> tuple[float, list[tuple[float, str]], float, dict[str, str]]:
    """Wall seconds, per-check durations, CPU seconds of the whole process tree, and verdicts."""
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
                *extra,
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
    verdicts = {c["id"]: c["status"] for c in checks}
    return wall, sorted(((c["duration"], c["id"]) for c in checks), reverse=True), cpu, verdicts


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
    parser.add_argument("--workers", metavar="N,M", help="compare these --check-workers counts")
    parser.add_argument("connectors", nargs="*", default=list(TARGETS), help="default: both references")
    args = parser.parse_args()
    connectors = args.connectors
    if args.workers:
        counts = [int(n) for n in args.workers.split(",")]
        for connector in connectors:
            runs: dict[int, list[tuple[float, float]]] = {n: [] for n in counts}
            slowest: dict[int, str] = {}
            for _ in range(args.rounds):
                for n in counts:
                    wall, durations, cpu, _ = certify(connector, ROOT, f"--check-workers={n}")
                    runs[n].append((wall, cpu))
                    slowest[n] = ", ".join(f"{c} {s:.1f} s" for s, c in durations[:3])
            first = statistics.median(w for w, _ in runs[counts[0]])
            for n in counts:
                wall = statistics.median(w for w, _ in runs[n])
                cpu = statistics.median(c for _, c in runs[n])
                print(
                    f"{connector:<24} --check-workers={n}: {wall:5.1f} s wall ({wall / first:.2f}x), "
                    f"CPU {cpu:.1f} s; {load()}; slowest: {slowest[n]}",
                    flush=True,
                )
        return
    if not args.baseline:
        for connector in connectors:
            serial: list[tuple[float, float]] = []
            side: list[tuple[float, float]] = []
            differ: set[str] = set()
            for _ in range(args.rounds):
                wall, _, cpu, one_by_one = certify(connector, ROOT, "--check-workers=1")
                serial.append((wall, cpu))
                wall, durations, cpu, verdicts = certify(connector, ROOT)
                side.append((wall, cpu))
                differ |= {
                    f"{c} {one_by_one.get(c)} one at a time, {verdicts.get(c)} side by side"
                    for c in {*verdicts, *one_by_one}
                    if verdicts.get(c) != one_by_one.get(c)
                }
            (s_wall, s_cpu), (c_wall, c_cpu) = (
                (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
                for runs in (serial, side)
            )
            same = "DIFFER: " + "; ".join(sorted(differ)) if differ else "the same"
            slowest = ", ".join(f"{check} {seconds:.1f} s" for seconds, check in durations[:3])
            print(
                f"{connector:<24} strict catalogue: side by side {c_wall:5.1f} s wall "
                f"(target {TARGETS[connector]:g} s idle), one at a time {s_wall:5.1f} s: "
                f"ratio {c_wall / s_wall:.2f}x; CPU {c_cpu:.1f} s vs {s_cpu:.1f} s "
                f"({c_cpu / s_cpu:.2f}x); verdicts {same}; "
                f"{load()}; "
                f"slowest: {slowest}",
                flush=True,
            )
        return
    with tempfile.TemporaryDirectory() as folder:
        base = worktree(args.baseline, Path(folder))
        try:
            for connector in connectors:
                ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
                for _ in range(args.rounds):
                    wall, _, cpu, _ = certify(connector, base)
                    theirs.append(wall)
                    theirs_cpu.append(cpu)
                    wall, _, cpu, _ = certify(connector, ROOT)
                    ours.append(wall)
                    ours_cpu.append(cpu)
                now, then = statistics.median(ours), statistics.median(theirs)
                cpu_now, cpu_then = statistics.median(ours_cpu), statistics.median(theirs_cpu)
                print(
                    f"{connector:<24} now {now:5.1f} s, {args.baseline[:7]} {then:5.1f} s, "
                    f"ratio {now / then:.2f}x; CPU {cpu_now:.1f} s vs "
                    f"{cpu_then:.1f} s, ratio {cpu_now / cpu_then:.2f}x; {load()}",
                    flush=True,
                )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True
            )


if __name__ == "__main__":
    main()
