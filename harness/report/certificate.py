"""The certificate: the run's results as JSON a CI pipeline can gate on.

Signing (in-toto / DSSE with Ed25519) builds on this payload; until a key is configured the
certificate says plainly that it is unsigned.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness

PASSING = {"passed", "not_applicable"}


def file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def build_certificate(
    *,
    connector: dict[str, Any],
    contract: dict[str, Any],
    sandbox: str,
    seed: int,
    cert_level: str,
    started_at: datetime,
    results: list[dict[str, Any]],
    replay: str,
) -> dict[str, Any]:
    counts = Counter(r["status"] for r in results)
    certified = bool(results) and all(r["status"] in PASSING for r in results)
    return {
        "harness_version": harness.__version__,
        "connector": connector,
        "contract": contract,
        "sandbox": sandbox,
        "seed": seed,
        "cert_level": cert_level,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "checks": results,
        "summary": {s: counts.get(s, 0) for s in ("passed", "failed", "error", "not_applicable")},
        "verdict": "certified" if certified else "not certified",
        "replay": replay,
        "signed": False,
    }


def write_certificate(path: Path, certificate: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(certificate, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
