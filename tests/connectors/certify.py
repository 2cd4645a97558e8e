"""One strict certification in a child pytest, read back from its signed certificate: what the
matrix scripts (`make matrix`, `make clean-matrix`) run for each connector and seed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
FAILING = ("failed", "error", "inconclusive")
T = TypeVar("T")
R = TypeVar("R")


Outcomes = dict[str, dict[str, str]]  # check id -> {"status", "message"}


def outcomes(connector: Path, seed: int, contract: str | None = None) -> tuple[str, Outcomes]:
    """(verdict, {check id: {"status", "message"}}) of one strict certification (`contract`:
    relative to the repository, None for the bundled one)."""
    from harness.report import read_certificate

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
        predicate = read_certificate(report)[1]["predicate"]
    return predicate["verdict"], {
        c["id"]: {"status": c["status"], "message": c["message"]} for c in predicate["checks"]
    }


def certify(connector: Path, seed: int, contract: str | None = None) -> tuple[str, dict[str, str]]:
    """(verdict, {failed, errored or inconclusive check id: message}): every check that kept the
    connector from being certified."""
    verdict, checks = outcomes(connector, seed, contract)
    return verdict, {i: c["message"] for i, c in checks.items() if c["status"] in FAILING}


def jobs() -> int:
    """Certifications at once (MATRIX_JOBS; default two per core): each mostly waits (stalls,
    Retry-After, time limits), and verdicts are judged on the sandbox's timeline, not the clock."""
    return max(1, int(os.environ.get("MATRIX_JOBS") or 2 * (os.cpu_count() or 1)))


def in_order(work: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """`work` over `items`, `jobs()` at a time; results yielded in the items' order."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=jobs()) as pool:
        yield from zip(items, pool.map(work, items), strict=True)
