"""A tamper-evident audit log of state changes: each entry's MAC covers the one before it.

The chain is keyed (HMAC-SHA256 with a key that never leaves the sandbox), so nobody without
the key can recompute it after editing, deleting or reordering entries; and its head (the last
entry's sequence number and MAC) goes into the signed certificate, so cutting entries off the
end is detected too. `verify` recomputes the chain, and against a head if one is given.

Every entry also says who acted: `harness` (the control API, scripted faults) or `api` (a
request through the platform's API: the connector). Ground truth is built from the harness's
changes only.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

GENESIS = "0" * 64
ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar("sandbox_actor", default="harness")


@contextlib.contextmanager
def acting(actor: str) -> Iterator[None]:
    """Changes made inside the block are attributed to `actor` (e.g. `api` for a tenant request)."""
    token = ACTOR.set(actor)
    try:
        yield
    finally:
        ACTOR.reset(token)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def key_id(key: bytes) -> str:
    """A name for the key that reveals nothing of it (to say which key a head belongs to)."""
    return "hmac-sha256:" + hashlib.sha256(b"audit-key-id\0" + key).hexdigest()[:16]


def entry_hash(entry: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    message = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class AuditLog:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else new_key()
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, action: str, **details: Any) -> dict[str, Any]:
        with self._lock:
            prev = self._entries[-1]["hash"] if self._entries else GENESIS
            entry = {
                "seq": len(self._entries) + 1,
                "time": round(time.time(), 6),
                "action": action,
                "by": ACTOR.get(),
                "details": details,
                "prev": prev,
            }
            entry["hash"] = entry_hash(entry, self.key)
            self._entries.append(entry)
            return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def head(self) -> dict[str, Any]:
        """What a certificate carries: how long the chain is and its last MAC."""
        with self._lock:
            last = self._entries[-1] if self._entries else None
        return {"seq": last["seq"] if last else 0, "hash": last["hash"] if last else GENESIS}


def verify(entries: list[dict[str, Any]], key: bytes, head: dict[str, Any] | None = None) -> list[str]:
    """Every break in the chain, as readable findings; empty when the log is intact (and, given
    a head, ends exactly there)."""
    problems = []
    prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if entry.get("seq") != position:
            problems.append(f"entry {position}: sequence {entry.get('seq')} (an entry was removed or moved)")
        if entry.get("prev") != prev:
            problems.append(f"entry {position}: does not follow the entry before it")
        if not hmac.compare_digest(entry_hash(entry, key), str(entry.get("hash", ""))):
            problems.append(f"entry {position}: its content does not match its MAC (edited or re-chained)")
        prev = entry.get("hash", "")
    if head is not None:
        last = entries[-1] if entries else {"seq": 0, "hash": GENESIS}
        if last.get("seq") != head["seq"] or last.get("hash") != head["hash"]:
            problems.append(
                f"the log ends at entry {last.get('seq')}, but its certified head is entry {head['seq']} "
                f"({head['hash'][:12]}...): entries were cut off or replaced"
            )
    return problems
