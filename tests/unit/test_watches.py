"""Watching a connector's process tree: its CPU waits are the kernel's, read from real processes.

Contention is made, not hoped for: the watched process and its rivals are pinned to one CPU, so
the watched one waits whatever else the machine is doing; a process that sleeps waits for nothing.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

from harness.connectors.watches import MemoryWatch, WaitWatch, thread_waits
from harness.core import PeakMemory

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="Linux /proc only")

SPIN = "import time\nend = time.time() + {s}\nwhile time.time() < end: pass\n"


def _pinned(code: str, cpu: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))


def test_a_process_sharing_its_cpu_with_two_rivals_is_seen_waiting() -> None:
    cpu = min(os.sched_getaffinity(0))
    rivals = [_pinned(SPIN.format(s=1.5), cpu) for _ in range(2)]
    watched = _pinned(SPIN.format(s=1.0), cpu)
    timeline: list[tuple[float, float]] = []
    watch = WaitWatch(watched.pid, timeline)
    watched.wait(timeout=30)
    watch.stop()
    for rival in rivals:
        rival.wait(timeout=30)
    waited = timeline[-1][1]
    # a third of one CPU: about two thirds of its second running time is spent queued
    assert waited > 0.3, f"waited {waited:.3f} s"
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(timeline))


def test_a_process_that_sleeps_waits_for_no_cpu_and_a_second_call_carries_on() -> None:
    timeline = [(0.0, 0.0), (1.0, 2.0)]  # an earlier call's waits
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; print(flush=True); time.sleep(1.5)"], stdout=subprocess.PIPE
    )
    assert sleeper.stdout is not None
    sleeper.stdout.readline()  # started: what it queued while starting up is before the sleep
    watch = WaitWatch(sleeper.pid, timeline)
    sleeper.wait(timeout=30)
    watch.stop()
    ours = timeline[2:]
    assert min(w for _, w in ours) >= 2.0
    queued = ours[-1][1] - ours[0][1]
    assert queued < 0.5, f"a sleeper queued {queued:.3f} s of its 1.5 s sleep"
    assert thread_waits(sleeper.pid) == {}  # gone: nothing to read


def test_a_worker_that_waited_in_an_earlier_call_starts_the_next_call_from_zero() -> None:
    """A Python worker lives across calls: what its threads waited before a call is not in it."""
    cpu = min(os.sched_getaffinity(0))
    rivals = [_pinned(SPIN.format(s=1.2), cpu) for _ in range(2)]
    worker = _pinned(SPIN.format(s=1.0) + "time.sleep(1.0)\n", cpu)
    timeline: list[tuple[float, float]] = []
    first = WaitWatch(worker.pid, timeline)
    for rival in rivals:
        rival.wait(timeout=30)
    first.stop()
    before = timeline[-1][1]
    second = WaitWatch(worker.pid, timeline)
    worker.wait(timeout=30)
    second.stop()
    assert before > 0.2, f"waited {before:.3f} s while contended"
    assert timeline[-1][1] - before < 0.5, f"the second call took over {timeline[-1][1] - before:.3f} s"


def test_the_memory_timeline_shows_when_the_peak_rose() -> None:
    code = (
        "import time\ntime.sleep(0.6)\nmark = time.time()\nheld = bytearray(64 << 20)\n"
        "held[::4096] = b'x' * len(held[::4096])\nprint(mark, flush=True)\ntime.sleep(0.4)\n"
    )
    grower = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    timeline: list[tuple[float, int]] = []
    watch = MemoryWatch(grower.pid, timeline)
    assert grower.stdout is not None
    mark = float(grower.stdout.readline())
    grower.wait(timeout=30)
    peak = watch.stop()
    memory = PeakMemory.of(timeline)
    assert memory.peak_kib == peak
    assert memory.rise_after(mark - 0.1) > 60 * 1024  # the 64 MiB it touched, all after the mark
    assert memory.at(mark - 0.1) < 40 * 1024  # an interpreter, before it


def test_a_thread_of_this_process_is_watched_alone_and_seen_waiting() -> None:
    """The platform's side: one thread of the harness's own process (the embedded sandbox's
    server thread), pinned with two rivals to one CPU, waits; its sibling threads are not read."""
    import threading
    import time

    from harness.connectors.watches import ThreadWaitWatch

    cpu = min(os.sched_getaffinity(0))
    ready, tids = threading.Event(), []

    def spin() -> None:
        os.sched_setaffinity(0, {cpu})  # this thread only
        tids.append(threading.get_native_id())
        ready.set()
        end = time.time() + 1.0
        while time.time() < end:
            pass

    rivals = [_pinned(SPIN.format(s=1.5), cpu) for _ in range(2)]
    worker = threading.Thread(target=spin)
    worker.start()
    ready.wait(5)
    timeline: list[tuple[float, float]] = []
    watch = ThreadWaitWatch(os.getpid(), tids, timeline)
    worker.join(timeout=30)
    watch.stop()
    for rival in rivals:
        rival.wait(timeout=30)
    assert watch.threads and {key[2] for key in watch.threads} == {str(tids[0])}
    assert timeline[-1][1] > 0.2, f"waited {timeline[-1][1]:.3f} s"
