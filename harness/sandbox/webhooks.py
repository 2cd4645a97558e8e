"""Webhooks: signed with the contract's scheme (Standard Webhooks by default) and delivered with retries.

A subscription gets an event for every change of a subscribed type, its body in the contract's
event shape (harness.contract.events, the builder the webhook checks use too), as UTF-8 JSON.
Deliveries go to a URL (any runtime) or an in-process callable (embedded), in background
threads, retried with exponential backoff on anything but a 2xx; every attempt is logged.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import httpx

from harness.core.signing import STANDARD, Signing, shared_secret
from harness.synth import Change

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
        payload: Callable[[Change], dict[str, Any]],  # a change -> its event's whole body
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        signing: Callable[[str], Signing] | None = None,
    ) -> None:
        self.executor, self.event_type, self.payload = executor, event_type, payload
        self.signing = signing or (lambda kind: STANDARD)  # event type -> its contract's scheme
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
            "sub_" + secrets.token_hex(6), frozenset(types), secret or self.new_secret(types), url, target
        )
        self._add(sub)
        return sub

    def _schemes(self, types: list[str]) -> list[Signing]:
        return list(dict.fromkeys(self.signing(kind) for kind in types)) or [STANDARD]

    def new_secret(self, types: list[str]) -> str:
        """A secret that signs for these event types' schemes (see shared_secret)."""
        return shared_secret(self._schemes(types))

    def standard(self, types: list[str]) -> bool:
        """Whether any of these event types is signed with Standard Webhooks."""
        return any(s.scheme == STANDARD.scheme for s in self._schemes(types))

    def secret_problem(self, types: list[str], secret: str) -> str | None:
        """Why `secret` cannot sign deliveries of these types, or None."""
        return next((p for s in self._schemes(types) if (p := s.secret_problem(secret))), None)

    def _add(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions.append(sub)

    def on_change(self, change: Change) -> None:
        kind = self.event_type(change)
        subs = [sub for sub in self.subscriptions if kind in sub.types]
        if not subs:
            return
        # one event, one body (and event id) for every subscription, each signed with its secret
        payload = json.dumps(self.payload(change), separators=(",", ":"), ensure_ascii=False).encode()
        for sub in subs:
            self.enqueue(sub, self.signing(kind).sign(sub.secret, payload), payload)

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
            "message": message_of(headers),
            "attempt": attempt,
            "status": status,
            "error": error,
            "time": round(time.time(), 3),
        }
    )
    return 200 <= status < 300 or (400 <= status < 500 and status not in RETRY_4XX)


def message_of(headers: dict[str, str]) -> str:
    """The message a delivery log entry is about: its delivery id header (webhook-id,
    X-GitHub-Delivery, ...), else a digest of its headers, the same for every retry."""
    for name, value in headers.items():
        if name.lower() == "webhook-id" or name.lower().endswith(("-delivery", "-id", "-webhook-id")):
            return str(value)
    return "sig_" + hashlib.sha256(json.dumps(sorted(headers.items())).encode()).hexdigest()[:24]
