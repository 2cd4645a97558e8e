"""The check schedule: shared checks side by side, exclusive ones alone after them."""

from __future__ import annotations

import ast
import threading
import time

import pytest

from harness.checks.registry import Registry, check
from harness.schedule import CheckSchedule, one_ast_parse_at_a_time


def _catalogue() -> list:
    registry = Registry()
    ids = [("A-01", "auth"), ("A-02", "auth"), ("I-01", "integrity"), ("P-01", "performance")]
    for check_id, pillar in ids:
        check(check_id, pillar=pillar, registry=registry)(_doc)
    check("P-02", pillar="performance", registry=registry)(_doc)
    return registry.all()


def _doc(ctx):
    """A check."""


class Recorder:
    """Runs each 'check' for a moment and notes which others were running beside it."""

    def __init__(self, fail: str = "") -> None:
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.beside: dict[str, set[str]] = {}
        self.fail = fail

    def __call__(self, c) -> str:
        with self.lock:
            self.beside[c.id] = set(self.running)
            for other in self.running:
                self.beside[other].add(c.id)
            self.running.add(c.id)
        time.sleep(0.05)
        with self.lock:
            self.running.discard(c.id)
        if c.id == self.fail:
            raise RuntimeError(f"{c.id} broke")
        return f"result of {c.id}"


def test_shared_checks_run_side_by_side_and_exclusive_ones_alone():
    checks = _catalogue()
    run = Recorder()
    schedule = CheckSchedule(run, checks, workers=3)
    try:
        assert [schedule.result(c) for c in checks] == [f"result of {c.id}" for c in checks]
    finally:
        schedule.stop()
    assert run.beside["P-01"] == set() and run.beside["P-02"] == set()
    assert any(run.beside[c] for c in ("A-01", "A-02", "I-01"))


def test_what_a_check_raised_is_raised_by_its_result_only():
    checks = _catalogue()
    schedule = CheckSchedule(Recorder(fail="A-02"), checks, workers=2)
    try:
        with pytest.raises(RuntimeError, match="A-02 broke"):
            schedule.result(checks[1])
        assert schedule.result(checks[4]) == "result of P-02"
    finally:
        schedule.stop()


def test_stop_starts_nothing_more():
    checks = _catalogue()
    run = Recorder()
    schedule = CheckSchedule(run, checks, workers=1)
    schedule.stop()
    schedule.stop()  # twice is fine (the session closes once per run, maybe again at exit)
    assert len(run.beside) < len(checks)
    assert "P-01" not in run.beside and "P-02" not in run.beside


def test_ast_parse_takes_turns_while_checks_run_and_is_restored():
    original = ast.parse
    with one_ast_parse_at_a_time():
        assert ast.parse is not original
        trees = []
        threads = [
            threading.Thread(target=lambda: trees.append(ast.parse("x = " + "[" * 50 + "]" * 50)))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(trees) == 8 and all(isinstance(t, ast.Module) for t in trees)
    assert ast.parse is original
