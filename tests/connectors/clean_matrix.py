"""Every clean connector against the strict catalogue on several seeds (`make clean-matrix`).

The clean connectors (tests/connectors/clean/) are correct, so every check they fail is either a
defect of the connector or a false verdict of the check; the known false verdicts, with their
diagnosis, are in clean/false_verdicts.toml. Prints one line per connector and seed (verdict,
failed checks, each marked known or NEW) and exits 1 when a check fails that is not listed.
Usage: tests/connectors/clean_matrix.py [SEED ...] [--only NAME ...]
"""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

CLEAN = Path(__file__).resolve().parent / "clean"


def known_false_verdicts() -> dict[str, dict[str, dict[str, object]]]:
    """connector folder -> check id -> {"strict": bool, "reason": str}."""
    return tomllib.loads((CLEAN / "false_verdicts.toml").read_text(encoding="utf-8"))


def connectors() -> list[Path]:
    return sorted(p for p in CLEAN.iterdir() if (p / "connector.toml").is_file())


def certify(connector: Path, seed: int) -> tuple[str, dict[str, str]]:
    """(verdict, {failed check id: message}) of one strict certification."""
    import subprocess
    import tempfile

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
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=900,
        )
        predicate = read_certificate(report)[1]["predicate"]
    failed = {
        c["id"]: c["message"]
        for c in predicate["checks"]
        if c["status"] in ("failed", "error", "inconclusive")
    }
    return predicate["verdict"], failed


def main(argv: list[str]) -> int:
    only = argv[argv.index("--only") + 1 :] if "--only" in argv else []
    seeds = [int(a) for a in (argv[: argv.index("--only")] if only else argv)] or [1, 2, 3]
    known = known_false_verdicts()
    new = 0
    for connector in connectors():
        if only and connector.name not in only:
            continue
        for seed in seeds:
            started = time.monotonic()
            verdict, failed = certify(connector, seed)
            listed = known.get(connector.name, {})
            marks = [f"{c}({'known' if c in listed else 'NEW'})" for c in sorted(failed)]
            new += sum(c not in listed for c in failed)
            print(
                f"{connector.name:<16} seed {seed}  {verdict:<14} {time.monotonic() - started:5.0f} s  "
                f"failed: {', '.join(marks) or '-'}",
                flush=True,
            )
            for check_id in sorted(failed):
                print(f"      {check_id}: {failed[check_id][:220]}", flush=True)
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
