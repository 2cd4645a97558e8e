"""Idempotency-Key (IETF draft): the same key and body replay the first response; the same key
with another body is refused, so a retried write can never apply twice."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: bytes
    media_type: str | None


class IdempotencyStore:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], Stored] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()

    def lookup(self, client: str, operation: str, key: str) -> Stored | None:
        with self._lock:
            return self._entries.get((client, operation, key))

    def remember(self, client: str, operation: str, key: str, stored: Stored) -> None:
        with self._lock:
            self._entries.setdefault((client, operation, key), stored)
