"""Scripted faults as checks write them: one constructor per kind, sent as the sandbox's JSON rule.

A rule names an operation (or "*"), lets `after` matching requests through, then fires up to
`times` times (every time when None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = (
    "latency",
    "status",
    "expire_token",
    "drop",
    "truncate",
    "churn",
    "status_after",
    "stall",
    "trickle",
)

HELD = ("latency", "stall", "trickle")  # the kinds that hold an answer for latency_ms


@dataclass(frozen=True)
class Fault:
    kind: str
    operation: str = "*"
    after: int = 0
    times: int | None = 1
    status: int | None = None
    retry_after: int | None = None
    latency_ms: int | None = None
    churn: int | None = None  # changes the platform makes per firing (kind churn)

    @classmethod
    def error(cls, status: int, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Answer with this status instead of handling the request."""
        return cls("status", operation, after, times, status=status)

    @classmethod
    def rate_limited(
        cls, retry_after: int, operation: str = "*", *, after: int = 0, times: int | None = 1
    ) -> Fault:
        """429 Too Many Requests with `Retry-After: retry_after`."""
        return cls("status", operation, after, times, status=429, retry_after=retry_after)

    @classmethod
    def error_after_commit(
        cls, status: int, operation: str = "*", *, after: int = 0, times: int | None = 1
    ) -> Fault:
        """Handle the request (a write commits), then answer with this status anyway."""
        return cls("status_after", operation, after, times, status=status)

    @classmethod
    def dropped(cls, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Cut the connection in the middle of the response (after the request was handled)."""
        return cls("drop", operation, after, times)

    @classmethod
    def truncated(cls, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Send half of the response body."""
        return cls("truncate", operation, after, times)

    @classmethod
    def slow(cls, latency_ms: int, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        return cls("latency", operation, after, times, latency_ms=latency_ms)

    @classmethod
    def stalled(cls, stall_ms: int, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Hold the answer: send nothing for `stall_ms`, then all of it. The sandbox records whether
        the client gave up first (only a client timeout gets a connector past a hung platform)."""
        return cls("stall", operation, after, times, latency_ms=stall_ms)

    @classmethod
    def trickled(cls, stall_ms: int, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Send the headers and half the body at once, the rest only after `stall_ms`."""
        return cls("trickle", operation, after, times, latency_ms=stall_ms)

    @classmethod
    def expired_token(cls, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Refuse the request's token with 401 invalid_token before its expiry."""
        return cls("expire_token", operation, after, times)

    @classmethod
    def churning(cls, changes: int, operation: str = "*", *, after: int = 0, times: int | None = 1) -> Fault:
        """Create, update and delete `changes` records right after answering the request."""
        return cls("churn", operation, after, times, churn=changes)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """A rule as the sandbox echoes it (its counters `seen` and `fired` are left out)."""
        return cls(
            kind=str(data["kind"]),
            operation=str(data.get("operation", "*")),
            after=int(data.get("after", 0)),
            times=data.get("times", 1),
            status=data.get("status") if data.get("kind") in ("status", "status_after") else None,
            retry_after=data.get("retry_after") if data.get("kind") == "status" else None,
            latency_ms=data.get("latency_ms") if data.get("kind") in HELD else None,
            churn=data.get("churn") if data.get("kind") == "churn" else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The sandbox's rule: the fields this kind uses (the sandbox defaults the rest)."""
        rule: dict[str, Any] = {"kind": self.kind, "operation": self.operation, "after": self.after}
        rule["times"] = self.times
        for name in ("status", "retry_after", "latency_ms", "churn"):
            value = getattr(self, name)
            if value is not None:
                rule[name] = value
        return rule
