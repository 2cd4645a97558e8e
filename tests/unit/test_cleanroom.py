"""The clean room under checks that run side by side: one thread's orphan sweep never takes a
connector process another thread is starting."""

from __future__ import annotations

import threading

from harness.connectors.cleanroom import Room, sweep_orphans


def test_a_sweep_in_one_thread_never_kills_a_process_another_thread_is_starting() -> None:
    room = Room()
    stop = threading.Event()

    def sweep() -> None:
        while not stop.is_set():
            sweep_orphans()

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    statuses = []
    try:
        for _ in range(80):
            proc = room.popen(["/bin/true"], cwd=room.home)
            statuses.append(proc.wait(timeout=30))
            room.kill(proc)
    finally:
        stop.set()
        sweeper.join(timeout=30)
        room.close()
    assert statuses == [0] * 80, f"killed while starting: {[s for s in statuses if s]}"
