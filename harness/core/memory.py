"""A connector's peak resident memory over the time of a call, as the driver watched it.

PERF-02 asks whether memory keeps growing while the connector reads an account. Two separate
runs compare badly: a runtime's start-up peak alone varies by several MiB from one process to the
next (Node's heap most of all). Within one run that noise is gone, so the check reads how much
the peak rose while the sandbox served the second half of the pages, from this timeline.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeakMemory:
    """Samples of (time, peak KiB so far), in time order: the high-water mark (VmHWM) summed over
    the connector's processes, each counted once, so it never decreases."""

    samples: tuple[tuple[float, int], ...] = ()

    @classmethod
    def of(cls, samples: Iterable[tuple[float, int]]) -> PeakMemory:
        out: list[tuple[float, int]] = []
        for moment, kib in sorted(samples):
            out.append((moment, max(kib, out[-1][1]) if out else kib))
        return cls(tuple(out))

    def __bool__(self) -> bool:
        return bool(self.samples)

    @property
    def peak_kib(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def at(self, moment: float) -> int:
        """The peak reached by `moment`: the last sample taken at or before it (the first sample,
        for a moment before any)."""
        if not self.samples:
            return 0
        i = bisect.bisect_right(self.samples, (moment, 1 << 62))
        return self.samples[max(i - 1, 0)][1]

    def rise_after(self, moment: float) -> int:
        """KiB the peak grew after `moment`."""
        return self.peak_kib - self.at(moment)
