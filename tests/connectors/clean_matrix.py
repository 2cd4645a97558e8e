"""Every clean connector against the strict catalogue on several seeds (`make clean-matrix`).

The clean connectors (tests/connectors/clean/) are correct, so every check they fail is either a
defect of the connector or a false verdict of the check; the known false verdicts, with their
diagnosis, are in clean/false_verdicts.toml. Prints one line per connector and seed (verdict,
failed checks, each marked known or NEW) and exits 1 when a check fails that is not listed.
Certifications run MATRIX_JOBS at a time (default: two per core).
With --load, one busy process per core runs beside the certifications (a shared CI runner):
verdicts are judged on the sandbox's timeline, so they must not change.
Usage: tests/connectors/clean_matrix.py [--load] [SEED ...] [--only NAME ...]
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: `tests.connectors.certify` from the checkout

from tests.connectors.certify import certify, in_order  # noqa: E402

CLEAN = ROOT / "tests" / "connectors" / "clean"


def known_false_verdicts() -> dict[str, dict[str, dict[str, object]]]:
    """connector folder -> check id -> {"strict": bool, "reason": str}."""
    return tomllib.loads((CLEAN / "false_verdicts.toml").read_text(encoding="utf-8"))


def connectors() -> list[Path]:
    return sorted(p for p in CLEAN.iterdir() if (p / "connector.toml").is_file())


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def cpu_load(on: bool) -> Iterator[None]:
    """One busy process per core for the block (none when `on` is false)."""
    burners = (
        [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)] if on else []
    )
    for burner in burners:
        burner.start()
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.join()


def main(argv: list[str]) -> int:
    load = "--load" in argv
    argv = [a for a in argv if a != "--load"]
    only = argv[argv.index("--only") + 1 :] if "--only" in argv else []
    seeds = [int(a) for a in (argv[: argv.index("--only")] if only else argv)] or [1, 2, 3]
    known = known_false_verdicts()
    new = 0
    runs = [(c, seed) for c in connectors() if not only or c.name in only for seed in seeds]
    print(f"{len(runs)} certification(s), {'under load: one busy process per core' if load else 'no load'}")
    with cpu_load(load):
        results = list(in_order(lambda run: certify(*run), runs))
    for (connector, seed), (verdict, failed) in results:
        listed = known.get(connector.name, {})
        marks = [f"{c}({'known' if c in listed else 'NEW'})" for c in sorted(failed)]
        new += sum(c not in listed for c in failed)
        print(
            f"{connector.name:<16} seed {seed}  {verdict:<14} failed: {', '.join(marks) or '-'}",
            flush=True,
        )
        for check_id in sorted(failed):
            print(f"      {check_id}: {failed[check_id][:220]}", flush=True)
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
