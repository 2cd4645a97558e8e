"""How a check says no. A failure is an AssertionError that carries its evidence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core import LoggedRequest
from harness.core.errors import HarnessError


@dataclass
class Evidence:
    """What the sandbox saw: request counts and a few sample requests (secrets already masked)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "counts": self.counts, "details": self.details}


class CheckFailure(HarnessError, AssertionError):
    """The connector did not meet the check. `message` says what it did; `expected` what it should."""

    def __init__(
        self, check_id: str, message: str, *, expected: str = "", evidence: Evidence | None = None
    ) -> None:
        self.check_id, self.message, self.expected = check_id, message, expected
        self.evidence = evidence or Evidence()
        super().__init__(f"[{check_id}] {message}")


class NotApplicable(HarnessError):
    """The check does not apply to this connector (e.g. it declares no webhooks)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Finding:
    """A judgement's "no", before it becomes a failure: what the connector did, what it should
    have done, and the requests and details that show it.

    Judgements are pure functions of typed evidence that return a Finding or None, so they are
    unit-tested from recorded evidence; the check turns a Finding into its CheckFailure with
    `ctx.require`.
    """

    message: str
    expected: str = ""
    requests: tuple[LoggedRequest, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        message: str,
        *,
        expected: str = "",
        requests: Iterable[LoggedRequest] | None = None,
        **details: Any,
    ) -> Finding:
        return cls(message, expected, tuple(requests or ()), details)
