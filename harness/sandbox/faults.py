"""Scripted, seeded faults: the sandbox misbehaving on purpose, the way production does.

A rule names an operation (or "*"), lets `after` matching requests through, then fires up to
`times` times (every time when null), each time with `probability`. The same seed and the same
requests fire the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

BEFORE = ("latency", "status", "expire_token")  # act before the request is handled
AFTER = ("drop", "truncate", "churn")  # act on the response, or after it
KINDS = BEFORE + AFTER
FAULT_STATUSES = (429, 500, 502, 503, 504)


class FaultError(ValueError):
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
    def parse(cls, spec: Any, index: int) -> FaultRule:
        if not isinstance(spec, dict):
            raise FaultError(f"rules[{index}] must be an object")
        known = {f.name for f in fields(cls) if f.init}
        unknown = set(spec) - known
        if unknown:
            raise FaultError(f"rules[{index}] has unknown fields {sorted(unknown)}; known: {sorted(known)}")
        try:
            rule = cls(**spec)
        except TypeError as exc:
            raise FaultError(f"rules[{index}]: {exc}") from None
        if rule.kind not in KINDS:
            raise FaultError(f"rules[{index}].kind {rule.kind!r} is not one of {', '.join(KINDS)}")
        if rule.kind == "status" and rule.status not in FAULT_STATUSES:
            raise FaultError(f"rules[{index}].status must be one of {FAULT_STATUSES}")
        if not 0 <= rule.probability <= 1 or rule.after < 0 or (rule.times is not None and rule.times < 0):
            raise FaultError(f"rules[{index}]: probability is 0..1, after and times are >= 0")
        return rule

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self, seed: int) -> None:
        self.rules: list[FaultRule] = []
        self._rng = random.Random(seed)
        self._seed = seed
        self._lock = threading.Lock()

    def set(self, specs: list[Any]) -> list[FaultRule]:
        rules = [FaultRule.parse(spec, i) for i, spec in enumerate(specs)]
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
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                out.append(rule)
        return out
