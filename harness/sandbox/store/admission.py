"""What one API request's admission read from a store in one round trip, for the rest of that
request to use instead of asking again.

A shared store (Redis) answers a request's questions — is the tenant alive, its request number,
are there faults, the presented token and its client, the rate-limit decision, the change log's
tail — in one script at the start. The tenant's parts (tokens, clients, limiter, overlay, faults,
request log) take each answer once from here, and ask the store only for what was not prefetched.
The answers live in a context variable set for the one request (`admitting`), so nothing leaks
into another request, a control call, or a background thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Admission:
    prefix: str  # the tenant's key prefix: answers are for this tenant only
    seq: int | None = None  # the request's number in the tenant's request log
    faults: bool = True  # whether the tenant has fault rules (True: ask the store)
    token: str | None = None  # the presented bearer token, and what the store holds for it
    token_raw: bytes | None = None
    client_id: str | None = None  # the token's client, and what the store holds for it
    client_raw: bytes | None = None
    bucket: str | None = None  # the rate-limit key spent for the token's client, and the answer
    decision: tuple[bool, float] | None = None
    log_from: int = -1  # the change log from this index on, and the tenant clock, at admission
    log: list[bytes] | None = None
    clock: bytes | None = None
    fresh: bool = False  # the overlay is up to date for this request
    used: set[str] = field(default_factory=set)  # answers already taken (each is taken once)

    def take(self, what: str) -> bool:
        """True the first time `what` is asked for; a second reader asks the store."""
        if what in self.used:
            return False
        self.used.add(what)
        return True

    @property
    def refund(self) -> bool:
        """A rate-limit token spent at admission that the request never used (it was refused
        before the rate limit, or needed no authentication): the budget gets it back."""
        return self.decision is not None and self.decision[0] and "decision" not in self.used


ADMISSION: ContextVar[Admission | None] = ContextVar("harness_sandbox_admission", default=None)


def current(prefix: str) -> Admission | None:
    """This request's admission, if it is for the tenant with `prefix`."""
    found = ADMISSION.get()
    return found if found is not None and found.prefix == prefix else None


@contextlib.contextmanager
def admitting() -> Iterator[None]:
    """Scope one request: whatever its admission prefetched is gone when it ends."""
    reset = ADMISSION.set(None)
    try:
        yield
    finally:
        ADMISSION.reset(reset)


def admit(admission: Admission | None) -> None:
    ADMISSION.set(admission)


def bearer(headers: dict[str, str]) -> str | None:
    """The token of an `Authorization: Bearer` header, the one credential admission prefetches."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value and "}" not in value else None


__all__ = ["ADMISSION", "Admission", "admit", "admitting", "bearer", "current"]
