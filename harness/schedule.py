"""Checks of one certification run at once, each on its own tenants; results in catalogue order.

Most checks spend their time waiting on the connector and the sandbox, so running several at once
shortens a run without changing what any of them sees: each builds its own tenants (seeded from
the run's seed and its own id, never from the order it ran in), its own connector and replica.
Checks marked `exclusive` judge the connector's pace or resources, which a neighbour would take
a share of: they run after the others have finished, one at a time, with nothing beside them.
Checks marked `last` (SEC-01, which judges what every other check's connector produced) run
after those.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from harness.checks import Check

R = TypeVar("R")


_AST_LOCK = threading.RLock()


@contextlib.contextmanager
def one_ast_parse_at_a_time() -> Iterator[None]:
    """CPython keeps `ast.parse`'s recursion counter per interpreter, not per thread (gh-106905):
    two threads parsing at once (pytest rewriting a lazily imported plugin module, hypothesis
    describing a strategy) fail with `SystemError: AST constructor recursion depth mismatch`. While
    checks run side by side, `ast.parse` takes a lock; it calls back into no Python code, so the
    lock cannot deadlock."""
    original = ast.parse

    @functools.wraps(original)
    def parse(*args: Any, **kwargs: Any) -> Any:
        with _AST_LOCK:
            return original(*args, **kwargs)

    ast.parse = parse
    try:
        yield
    finally:
        ast.parse = original


class CheckSchedule(Generic[R]):
    """Runs `run(check)` for every check: the shared ones on `workers` threads, longest time limit
    first, then the exclusive ones alone, in their order. `result(check)` waits for that check's outcome."""

    def __init__(self, run: Callable[[Check], R], checks: Sequence[Check], workers: int) -> None:
        self._run = run
        self._futures: dict[str, Future[R]] = {}
        self._stopped = threading.Event()
        self._ast = one_ast_parse_at_a_time()
        self._ast.__enter__()
        # Longest first, with the time limit as the measure of how long a check may take: the run
        # does not end waiting on a long check (WH-04's fuzzing, RES-04's hostile pages) that
        # started last. Outcomes are still read in catalogue order.
        shared = sorted((c for c in checks if not c.exclusive), key=lambda c: -c.timeout)
        alone = [c for c in checks if c.exclusive and not c.last] + [c for c in checks if c.last]
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="harness-check")
        self._shared = [self._pool.submit(run, c) for c in shared]
        self._futures.update({c.id: f for c, f in zip(shared, self._shared, strict=True)})
        self._alone = [(c, self._reserve(c)) for c in alone]
        self._last = threading.Thread(target=self._run_alone, name="harness-check-alone", daemon=True)
        self._last.start()

    def _reserve(self, check: Check) -> Future[R]:
        future: Future[R] = Future()
        self._futures[check.id] = future
        return future

    def _run_alone(self) -> None:
        for future in self._shared:
            with contextlib.suppress(BaseException):  # only waiting: each check's item reports it
                future.exception()
        for check, future in self._alone:
            if self._stopped.is_set() or not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._run(check))
            except BaseException as exc:
                future.set_exception(exc)

    def __contains__(self, check: object) -> bool:
        return isinstance(check, Check) and check.id in self._futures

    def result(self, check: Check) -> R:
        """The check's outcome, waiting for it if it is still running (what it raised, re-raised)."""
        return self._futures[check.id].result()

    def stop(self) -> None:
        """Start nothing more, and wait for the checks already running (each is bounded by its own
        time limit): the sandbox they use stops after this."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for _, future in self._alone:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._last.join()
        self._ast.__exit__(None, None, None)
