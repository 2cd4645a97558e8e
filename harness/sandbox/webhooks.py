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
from dataclasses import dataclass, field
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


@dataclass
class Dispatcher:
    """One tenant's subscriptions and delivery log."""

    executor: Executor
    event_type: Callable[[Change], str]
    payload: Callable[[Change], dict[str, Any]]
    subscriptions: list[Subscription] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = ATTEMPTS
    backoff: float = BACKOFF

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

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
        with self._lock:
            self.subscriptions.append(sub)
        return sub

    def on_change(self, change: Change) -> None:
        kind = self.event_type(change)
        for sub in list(self.subscriptions):
            if kind in sub.types:
                body = {"type": kind, "timestamp": rfc3339(change.time), **self.payload(change)}
                payload = json.dumps(body, separators=(",", ":")).encode()
                headers = sign(sub.secret, payload)
                self.executor.submit(self._deliver, sub, headers, payload)

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.deliveries)

    def _deliver(self, sub: Subscription, headers: dict[str, str], payload: bytes) -> None:
        for attempt in range(1, self.attempts + 1):
            status, error = 0, None
            try:
                if sub.target is not None:
                    status = int(sub.target(dict(headers), payload))
                else:
                    assert sub.url is not None
                    response = httpx.post(
                        sub.url,
                        content=payload,
                        timeout=10,
                        headers={**headers, "content-type": "application/json"},
                    )
                    status = response.status_code
            except Exception as exc:  # the receiver's failure is logged, never raised into the sandbox
                error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self.deliveries.append(
                    {
                        "subscription": sub.id,
                        "message": headers["webhook-id"],
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "time": round(time.time(), 3),
                    }
                )
            final = 200 <= status < 300 or (400 <= status < 500 and status not in RETRY_4XX)
            if final or attempt == self.attempts:
                return
            time.sleep(self.backoff * 2 ** (attempt - 1))
