"""Watching a connector's process tree while a call runs: its peak memory, and its CPU waits.

A thread polls /proc for the tree (the call's process and every process it started, rescanned
now and then for new ones) and keeps what each process reported last, so a process that ends
between two polls still counts with its last reading.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.connectors.cleanroom import descendants, started
from harness.connectors.driver import Diagnostics
from harness.core.memory import PeakMemory
from harness.core.waits import CpuWaits


class _TreeWatch:
    POLL_SECONDS = 0.025
    RESCAN_EVERY = 10  # polls between walks of /proc for new processes in the tree

    def __init__(self, root: int) -> None:
        self.root = root
        self._keys: list[tuple[int, str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = 0
        while True:
            self.sample(rescan=tick % self.RESCAN_EVERY == 0)
            tick += 1
            if self._done.wait(self.POLL_SECONDS):
                self.sample(rescan=True)
                return

    def sample(self, rescan: bool = True) -> None:
        if rescan:
            self._keys = [(pid, started(pid)) for pid in descendants(self.root)]
        self.read(self._keys)

    def read(self, keys: list[tuple[int, str]]) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


class MemoryWatch(_TreeWatch):
    """The peak resident memory (VmHWM) of a process tree: summed over its processes, each
    counted once by (pid, start time); each reading is appended to `timeline` as (time, KiB)."""

    def __init__(self, root: int, timeline: list[tuple[float, int]] | None = None) -> None:
        self.peaks: dict[tuple[int, str], int] = {}
        self.samples = timeline if timeline is not None else []
        super().__init__(root)

    def read(self, keys: list[tuple[int, str]]) -> None:
        for key in keys:
            self.peaks[key] = max(self.peaks.get(key, 0), high_water_kib(key[0]))
        self.samples.append((time.time(), sum(self.peaks.values())))

    def stop(self) -> int:
        """Stop sampling; the summed peak in KiB."""
        self._stop()
        return sum(self.peaks.values())


class WaitWatch(_TreeWatch):
    """Seconds the tree's threads were runnable but waiting for a CPU, as a timeline.

    Polled more often than memory: PERF-01 takes the wait out of each pause between two requests,
    and a pause is tens of milliseconds.
    """

    POLL_SECONDS = 0.01
    RESCAN_EVERY = 5

    def __init__(self, root: int, timeline: list[tuple[float, float]]) -> None:
        """Samples are appended to `timeline`, carrying on from what earlier calls waited."""
        self.since = timeline[-1][1] if timeline else 0.0
        self.threads: dict[tuple[int, str, str], float] = {}
        self._baseline: dict[tuple[int, str, str], float] | None = None
        self.samples = timeline
        super().__init__(root)

    def read(self, keys: list[tuple[int, str]]) -> None:
        first = self._baseline is None
        baseline = self._baseline = self._baseline or {}
        for pid, start in keys:
            for tid, waited in self._threads(pid).items():
                key = (pid, start, tid)
                if first:  # a thread that ran before this call: only what it waits from now counts
                    baseline[key] = waited
                self.threads[key] = max(self.threads.get(key, 0.0), waited - baseline.get(key, 0.0))
        self.samples.append((time.time(), self.since + sum(self.threads.values())))

    def _threads(self, pid: int) -> dict[str, float]:
        return thread_waits(pid)

    def stop(self) -> None:
        self._stop()


class ThreadWaitWatch(WaitWatch):
    """The CPU waits of some threads of one process, not its tree: the embedded sandbox's own
    threads in the harness's process, whose queueing holds a sync up as the connector's does."""

    def __init__(self, pid: int, tids: list[int], timeline: list[tuple[float, float]]) -> None:
        self.tids = [str(t) for t in tids]
        super().__init__(pid, timeline)

    def sample(self, rescan: bool = True) -> None:
        if rescan:
            self._keys = [(self.root, started(self.root))]
        self.read(self._keys)

    def _threads(self, pid: int) -> dict[str, float]:
        return thread_waits(pid, self.tids)


class Watched:
    """What a driver's watched calls gathered, carried across its calls: the highest summed peak
    memory (PERF-02's figure) with its timeline, and the timeline of CPU waits (PERF-01)."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self.memory: list[tuple[float, int]] = []
        self.waits: list[tuple[float, float]] = []

    def start(self, pid: int, *, memory: bool, waits: bool) -> Callable[[], None]:
        """Watch the call's process tree from `pid` as asked; returns what stops the watches."""
        mem = MemoryWatch(pid, self.memory) if memory else None
        cpu = WaitWatch(pid, self.waits) if waits else None

        def stop() -> None:
            if mem is not None:
                self.saw_peak(mem.stop())
            if cpu is not None:
                cpu.stop()

        return stop

    def saw_peak(self, kib: int) -> None:
        """A peak measured elsewhere (the Python worker reports its own with each answer)."""
        self.peak_kib = max(self.peak_kib, kib)

    def diagnostics(self, stderr: Sequence[str]) -> Diagnostics:
        """The driver's diagnostics: its last 200 stderr lines and what the watches gathered."""
        return Diagnostics(
            stderr=tuple(stderr[-200:]),
            peak_kib=self.peak_kib,
            memory=PeakMemory.of(self.memory),
            cpu_waits=CpuWaits.of(self.waits),
        )


def high_water_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process has had so far, in KiB (0 once it is gone)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def thread_waits(pid: int, tids: list[str] | None = None) -> dict[str, float]:
    """Seconds each thread of the process (or those of `tids`) has spent runnable on a run queue,
    not running (/proc/<pid>/task/<tid>/schedstat); empty once it is gone, or where the kernel
    has no schedstat."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task") if tids is None else tids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                out[tid] = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1]) / 1e9
    return out
