"""Scripted, seeded faults: the sandbox misbehaving on purpose, the way production does.

A rule names an operation (or "*"), lets `after` matching requests through, then fires up to
`times` times (every time when null), each time with `probability`. The same seed and the same
requests fire the same faults.
"""

from __future__ import annotations

import difflib
import random
import threading
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from harness.core.errors import HarnessError

BEFORE = ("latency", "status", "expire_token")  # act before the request is handled
# act on the response, or after it; status_after answers an error although the request was applied
AFTER = ("drop", "truncate", "churn", "status_after", "stall", "trickle")
KINDS = BEFORE + AFTER
# the 4xx are refusals no retry can fix (RES-06 provokes each one an operation documents)
FAULT_STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504)
MAX_LATENCY_MS = 60_000  # also the longest stall (kinds stall and trickle hold the answer latency_ms)
MAX_RETRY_AFTER = 3600
MAX_CHURN = 10_000
# JSON types of a rule's fields (no field is a boolean, and to Python a bool is an int)
TYPES: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "operation": str,
    "after": int,
    "times": (int, type(None)),
    "probability": (int, float),
    "status": int,
    "latency_ms": int,
    "retry_after": int,
    "churn": int,
}
TYPE_NAMES = {name: "a number" if name == "probability" else "an integer" for name in TYPES} | {
    "kind": "a string",
    "operation": "a string",
    "times": "an integer or null",
}


class FaultError(HarnessError, ValueError):
    pass


@dataclass
class FaultRule:
    kind: str
    operation: str = "*"
    after: int = 0
    times: int | None = 1
    probability: float = 1.0
    status: int = 503
    latency_ms: int = 200
    retry_after: int = 1
    churn: int = 10
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    @classmethod
    def parse(cls, spec: Any, index: int, operations: Collection[str] | None = None) -> FaultRule:
        """One rule from its JSON; with `operations` (the contract's operation ids) a rule for an
        operation the contract does not have is an error, since it would never fire."""
        if not isinstance(spec, dict):
            raise FaultError(f"rules[{index}] must be an object")
        known = {f.name for f in fields(cls) if f.init}
        unknown = set(spec) - known
        if unknown:
            raise FaultError(f"rules[{index}] has unknown fields {sorted(unknown)}; known: {sorted(known)}")
        if "kind" not in spec:
            raise FaultError(f"rules[{index}] needs a kind: one of {', '.join(KINDS)}")
        for name, value in spec.items():
            if isinstance(value, bool) or not isinstance(value, TYPES[name]):
                raise FaultError(f"rules[{index}].{name} must be {TYPE_NAMES[name]}, not {value!r}")
        rule = cls(**spec)
        if rule.kind not in KINDS:
            raise FaultError(f"rules[{index}].kind {rule.kind!r} is not one of {', '.join(KINDS)}")
        if rule.kind in ("status", "status_after") and rule.status not in FAULT_STATUSES:
            raise FaultError(f"rules[{index}].status must be one of {FAULT_STATUSES}")
        if not 0 <= rule.probability <= 1 or rule.after < 0 or (rule.times is not None and rule.times < 0):
            raise FaultError(f"rules[{index}]: probability is 0..1, after and times are >= 0")
        if not 0 <= rule.latency_ms <= MAX_LATENCY_MS or not 0 <= rule.retry_after <= MAX_RETRY_AFTER:
            raise FaultError(
                f"rules[{index}]: latency_ms is 0..{MAX_LATENCY_MS}, retry_after is 0..{MAX_RETRY_AFTER}"
            )
        if not 0 <= rule.churn <= MAX_CHURN:
            raise FaultError(f"rules[{index}].churn is 0..{MAX_CHURN}")
        if operations is not None and rule.operation != "*" and rule.operation not in operations:
            close = difflib.get_close_matches(rule.operation, list(operations), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else "use an operationId of the contract, or '*'"
            raise FaultError(
                f"rules[{index}].operation {rule.operation!r} is not an operation of the contract, so the "
                f"rule would never fire; {hint}"
            )
        return rule

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self, seed: int) -> None:
        self.rules: list[FaultRule] = []
        self._rng: random.Random | None = None  # made with the first rules: an idle tenant holds none
        self._seed = seed
        self._lock = threading.Lock()

    def set(self, specs: list[Any], operations: Collection[str] | None = None) -> list[FaultRule]:
        rules = [FaultRule.parse(spec, i, operations) for i, spec in enumerate(specs)]
        with self._lock:
            self.rules = rules
            self._rng = random.Random(self._seed)
        return rules

    def clear(self) -> None:
        self.set([])

    def fire(self, operation: str) -> list[FaultRule]:
        """The rules that fire for one request to `operation` (counting it)."""
        out = []
        with self._lock:
            for rule in self.rules:
                if rule.operation not in ("*", operation):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after or (rule.times is not None and rule.fired >= rule.times):
                    continue
                if rule.probability < 1 and self._rng is not None and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                out.append(rule)
        return out
