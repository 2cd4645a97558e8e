"""What the installed plugin costs a pytest run without --connector: prints numbers, asserts nothing.

CPU time (user + system, of the child process) of `pytest -q` on a one-test folder, with the
plugin and with `-p no:harness`, the median of RUNS each, interleaved. Target (issue 17): at most
0.05 s CPU over `-p no:harness`. tests/unit/test_first_hour.py asserts which modules load.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = 7
TARGET = 0.05


def cpu_of(args: list[str], cwd: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_one.py").write_text("def test_one():\n    assert True\n")
        with_plugin, without = [], []
        for _ in range(RUNS):
            with_plugin.append(cpu_of([], folder))
            without.append(cpu_of(["-p", "no:harness"], folder))
    a, b = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest, one test, plugin installed, no --connector: {a:.3f} s CPU (median of {RUNS})")
    print(f"pytest, one test, -p no:harness:                     {b:.3f} s CPU")
    print(f"plugin cost: {a - b:+.3f} s CPU (target at most {TARGET} s)")


if __name__ == "__main__":
    main()
