"""What a sandbox can do, stated rather than discovered by trying and reading the error text.

A sandbox reached by URL may be an older build than this harness: a check that needs a fault
kind asks `supports(kind)` and picks another way when the answer is no.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    fault_kinds: frozenset[str]

    def supports(self, kind: str) -> bool:
        return kind in self.fault_kinds
