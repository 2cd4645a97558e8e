"""`side_by_side`: independent steps of a check run at once, results in the order given."""

from __future__ import annotations

import threading

import pytest

from harness.checks.run import side_by_side


def test_steps_run_at_once_and_come_back_in_order() -> None:
    # each step waits for the other: run one after the other, the barrier breaks
    barrier = threading.Barrier(2, timeout=5)

    def step(value: str) -> str:
        barrier.wait()
        return value

    assert side_by_side(lambda: step("stalled"), lambda: step("trickled")) == ["stalled", "trickled"]


def test_a_step_that_raises_raises_after_the_others_end() -> None:
    ended = threading.Event()

    def fails() -> None:
        raise ValueError("the connector could not be built")

    def finishes() -> None:
        ended.wait(0.2)
        ended.set()

    with pytest.raises(ValueError, match="could not be built"):
        side_by_side(fails, finishes)
    assert ended.is_set()


def test_one_step_runs_in_the_calling_thread() -> None:
    assert side_by_side(threading.current_thread) == [threading.current_thread()]
