"""Webhooks: signed per Standard Webhooks and delivered with retries, and crafted bad on purpose.

A subscription gets an event for every change of a subscribed type. Deliveries go to a URL
(any runtime) or an in-process callable (embedded), in background threads, retried with
exponential backoff on anything but a 2xx; every attempt is logged.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import httpx

from harness.core.signing import new_secret, sign
from harness.synth import Change, rfc3339

Deliver = Callable[[dict[str, str], bytes], int]
ATTEMPTS = 5
RETRY_4XX = (408, 429)  # "try again later"; every other 4xx is the receiver's final word
BACKOFF = 0.2


@dataclass
class Subscription:
    id: str
    types: frozenset[str]
    secret: str
    url: str | None = None
    target: Deliver | None = None

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "types": sorted(self.types), "url": self.url, "secret": self.secret}


class Dispatcher:
    """One tenant's subscriptions and delivery log (kept in memory; a store may keep them elsewhere)."""

    def __init__(
        self,
        executor: Executor,
        event_type: Callable[[Change], str],
        payload: Callable[[Change], dict[str, Any]],
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
    ) -> None:
        self.executor, self.event_type, self.payload = executor, event_type, payload
        self.attempts, self.backoff = attempts, backoff
        self._subscriptions: list[Subscription] = []
        self._deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions)

    def subscribe(
        self,
        types: list[str],
        url: str | None = None,
        target: Deliver | None = None,
        secret: str | None = None,
    ) -> Subscription:
        sub = Subscription(
            "sub_" + secrets.token_hex(6), frozenset(types), secret or new_secret(), url, target
        )
        self._add(sub)
        return sub

    def _add(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions.append(sub)

    def on_change(self, change: Change) -> None:
        kind = self.event_type(change)
        for sub in self.subscriptions:
            if kind in sub.types:
                body = {"type": kind, "timestamp": rfc3339(change.time), **self.payload(change)}
                payload = json.dumps(body, separators=(",", ":")).encode()
                headers = sign(sub.secret, payload)
                self.enqueue(sub, headers, payload)

    def enqueue(self, sub: Subscription, headers: dict[str, str], payload: bytes) -> None:
        """Deliver in the background (a store with a shared queue delivers from there instead)."""
        self.executor.submit(self._deliver, sub, headers, payload)

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._deliveries)

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._deliveries.append(entry)

    def attempt(self, sub: Subscription, headers: dict[str, str], payload: bytes, attempt: int) -> bool:
        return attempt_once(sub, headers, payload, attempt, self._record)

    def _deliver(self, sub: Subscription, headers: dict[str, str], payload: bytes) -> None:
        for attempt in range(1, self.attempts + 1):
            if self.attempt(sub, headers, payload, attempt) or attempt == self.attempts:
                return
            time.sleep(self.backoff * 2 ** (attempt - 1))


def attempt_once(
    sub: Subscription,
    headers: dict[str, str],
    payload: bytes,
    attempt: int,
    record: Callable[[dict[str, Any]], None],
) -> bool:
    """One delivery attempt, logged with `record`; True when it is final (a 2xx, or a 4xx that
    is not "try again later")."""
    status, error = 0, None
    try:
        if sub.target is not None:
            status = int(sub.target(dict(headers), payload))
        else:
            assert sub.url is not None
            response = httpx.post(
                sub.url, content=payload, timeout=10, headers={**headers, "content-type": "application/json"}
            )
            status = response.status_code
    except Exception as exc:  # the receiver's failure is logged, never raised into the sandbox
        error = f"{type(exc).__name__}: {exc}"
    record(
        {
            "subscription": sub.id,
            "message": headers["webhook-id"],
            "attempt": attempt,
            "status": status,
            "error": error,
            "time": round(time.time(), 3),
        }
    )
    return 200 <= status < 300 or (400 <= status < 500 and status not in RETRY_4XX)
