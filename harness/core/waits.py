"""How long a connector's processes were ready to run but waiting for a CPU, over time.

On an oversubscribed machine a connector that answers a page in a millisecond of CPU can still
take a second to send its next request, because the kernel kept it queued behind other work.
That wait is the machine's, not the connector's, so a check that judges the connector's pauses
(PERF-01) takes it out, from this timeline. Sleeping, waiting on a socket or a pipe is not in
it: only time runnable and not running (the second field of Linux's /proc/<pid>/schedstat).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuWaits:
    """Samples of (time, seconds waited so far), in time order, the waits summed over every
    thread of every process of the connector; between samples the wait is taken as even.

    Summed over threads the wait can grow faster than the clock (two threads queued at once);
    `during` caps it at the interval's length, since one stretch of the connector's time cannot be
    taken out twice.
    """

    samples: tuple[tuple[float, float], ...] = ()

    @classmethod
    def of(cls, samples: Iterable[tuple[float, float]]) -> CpuWaits:
        ordered = sorted(samples)
        out: list[tuple[float, float]] = []
        for moment, waited in ordered:  # cumulative: never decreases
            out.append((moment, max(waited, out[-1][1]) if out else waited))
        return cls(tuple(out))

    def __bool__(self) -> bool:
        return len(self.samples) > 1

    def plus(self, other: CpuWaits) -> CpuWaits:
        """Both timelines' waits added up, at every moment either was sampled (the connector's
        processes and the platform's threads: either waiting holds the sync up)."""
        if not other:
            return self
        if not self:
            return other
        moments = sorted({t for t, _ in self.samples} | {t for t, _ in other.samples})
        return CpuWaits.of((t, self.at(t) + other.at(t)) for t in moments)

    def at(self, moment: float) -> float:
        """Seconds waited up to `moment`, interpolated between samples (flat outside them)."""
        samples = self.samples
        if not samples or moment <= samples[0][0]:
            return samples[0][1] if samples else 0.0
        if moment >= samples[-1][0]:
            return samples[-1][1]
        i = bisect.bisect_right(samples, (moment, float("inf")))
        (t0, w0), (t1, w1) = samples[i - 1], samples[i]
        return w0 + (w1 - w0) * (moment - t0) / (t1 - t0) if t1 > t0 else w1

    def during(self, start: float, end: float) -> float:
        """Seconds waited between `start` and `end`, at most `end - start`."""
        if end <= start:
            return 0.0
        return min(max(self.at(end) - self.at(start), 0.0), end - start)

    def outside(self, spans: Sequence[tuple[float, float]], until: float) -> float:
        """Seconds waited before `until` outside `spans` (sorted, disjoint): the stretches when the
        connector, not the sandbox, had the next move."""
        if not self:
            return 0.0
        total, cursor = 0.0, self.samples[0][0]
        for start, end in spans:
            if start >= until:
                break
            total += self.during(cursor, start)
            cursor = max(cursor, end)
        return total + self.during(cursor, until)
