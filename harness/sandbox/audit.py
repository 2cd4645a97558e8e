"""A tamper-evident audit log of state changes: each entry's hash covers the one before it.

`verify` recomputes the chain; editing, deleting or reordering any entry breaks it at that
entry, which is how a certificate can show the sandbox's evidence was not touched.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

GENESIS = "0" * 64


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class AuditLog:
    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, action: str, **details: Any) -> dict[str, Any]:
        with self._lock:
            prev = self._entries[-1]["hash"] if self._entries else GENESIS
            entry = {
                "seq": len(self._entries) + 1,
                "time": round(time.time(), 6),
                "action": action,
                "details": details,
                "prev": prev,
            }
            entry["hash"] = entry_hash(entry)
            self._entries.append(entry)
            return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]


def verify(entries: list[dict[str, Any]]) -> list[str]:
    """Every break in the chain, as readable findings; empty when the log is intact."""
    problems = []
    prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if entry.get("seq") != position:
            problems.append(f"entry {position}: sequence {entry.get('seq')} (an entry was removed or moved)")
        if entry.get("prev") != prev:
            problems.append(f"entry {position}: does not follow the entry before it")
        if entry_hash(entry) != entry.get("hash"):
            problems.append(f"entry {position}: its content does not match its hash (edited)")
        prev = entry.get("hash", "")
    return problems
