"""PERF-01 and PERF-02 judged from recorded evidence: clean patterns pass, defects are named.

PERF-01's request logs are built as the sandbox records them: arrival time and the time it took
to answer (latency_ms), so a loaded machine is a log whose pages take long to serve.
"""

from __future__ import annotations

import itertools

from harness.checks.memory import MemoryRun, judge_memory_growth, judge_memory_run
from harness.checks.performance import ConnectorClock, judge_paced_run, judge_rate_budget
from harness.connectors import ConnectorFailed
from harness.core import CpuWaits, PeakMemory
from tests.unit.checks.evidence import log, request

STREAMS = ["contacts", "companies", "deals"]


def serial(n: int, *, serve_ms: float, pause_ms: float, status=lambda i: 200, start: float = 100.0):
    """A serial connector: each request `pause_ms` after the answer to the one before."""
    out, now = [], start
    for i in range(n):
        out.append(request(i + 1, status(i), time=now, latency_ms=serve_ms, query={"cursor": [str(i)]}))
        now += (serve_ms + pause_ms) / 1000
    return log(*out)


def test_the_connector_clock_leaves_out_the_sandbox_answering() -> None:
    api = log(
        request(1, time=10.0, latency_ms=100),
        request(2, time=10.05, latency_ms=100),  # overlaps the first: counted once
        request(3, time=10.5, latency_ms=200),
    )
    clock = ConnectorClock(api)
    assert round(clock.busy, 3) == 0.35
    assert clock(10.0) == 10.0
    assert round(clock(10.5), 3) == 10.35  # 0.15 s of the first 0.5 s were the sandbox's
    assert round(clock(11.0), 3) == 10.65


def test_back_to_back_requests_use_the_budget_on_a_loaded_machine() -> None:
    """requests_retry under load: the sandbox takes 106 ms to serve a 200-record page, the
    connector sends its next request 3 ms after each answer. By wall clock that is under half
    the budget; on the connector's own clock it is all of it, as on an idle machine."""
    loaded = serial(40, serve_ms=106, pause_ms=3)
    idle = serial(40, serve_ms=8, pause_ms=3)
    assert judge_rate_budget(loaded, until=None) is None
    assert judge_rate_budget(idle, until=None) is None


def test_a_connector_pacing_itself_to_the_limit_passes() -> None:
    """One request every 50 ms by wall clock (sleeping what the RateLimit headers say)."""
    assert judge_rate_budget(serial(40, serve_ms=12, pause_ms=38), until=None) is None


def test_parallel_streams_in_flight_at_once_pass() -> None:
    """async_parallel: three streams' pages in flight together, each answered in 150 ms."""
    entries, seq = [], 0
    for round_ in range(14):
        for lane, op in enumerate(("listContacts", "listCompanies", "listDeals")):
            seq += 1
            at = 100 + round_ * 0.155 + lane * 0.01
            entries.append(
                request(seq, time=at, operation=op, latency_ms=150, query={"cursor": [str(round_)]})
            )
    assert judge_rate_budget(log(*entries), until=None) is None


def test_one_stall_of_a_loaded_machine_is_forgiven() -> None:
    """stdlib_cli on a machine with a load average of 10 (seed 3): back to back, but one stall of
    1.8 s before the last request (the change feed's position), which by itself wastes 17 tokens."""
    api = serial(31, serve_ms=95, pause_ms=20)
    last = request(32, time=api[-1].responded + 1.8, operation="listEvents", path="/events", latency_ms=1)
    assert judge_rate_budget(log(*api, last), until=None) is None


def test_sleeping_before_every_third_page_is_not_forgiven() -> None:
    out, now = [], 100.0
    for i in range(32):
        out.append(request(i + 1, time=now, latency_ms=10, query={"cursor": [str(i)]}))
        now += 0.01 + (1.0 if i % 3 == 2 else 0.005)
    finding = judge_rate_budget(log(*out), until=None)
    assert finding is not None and "requests its rate budget allowed" in finding.message


def test_sleeping_a_second_between_pages_wastes_the_budget() -> None:
    """flawed sleeps_between_pages: a second's sleep before every next page."""
    api = serial(8, serve_ms=10, pause_ms=1000)
    finding = judge_rate_budget(api, until=api[-1].time + 0.5)
    assert finding is not None
    assert "used only 8 of the" in finding.message and "requests its rate budget allowed" in finding.message
    assert "the median pause between an answer and its next request was 1.00 s" in finding.message
    assert "still running when its 8 s were up" in finding.message
    assert finding.details["utilization"] < 0.2 and finding.details["finished"] is False


def test_a_slow_sandbox_does_not_hide_a_connector_that_sleeps() -> None:
    finding = judge_rate_budget(serial(20, serve_ms=106, pause_ms=300), until=None)
    assert (
        finding is not None and "pause between an answer and its next request was 0.30 s" in finding.message
    )


def queued_in_every_pause(api, seconds: float) -> CpuWaits:
    """A timeline where the connector's processes waited `seconds` for a CPU in each pause."""
    samples, waited = [], 0.0
    for before, after in itertools.pairwise(api):
        samples += [(before.responded + 0.001, waited), (after.time - 0.001, waited + seconds)]
        waited += seconds
    return CpuWaits.of(samples)


def test_time_queued_for_a_cpu_is_the_machines_not_the_connectors() -> None:
    """A connector that needs 5 ms between pages, on a machine so oversubscribed that each time
    its process waits 200 ms for a core: by its own clock it is back to back."""
    api = serial(40, serve_ms=10, pause_ms=205)
    finding = judge_rate_budget(api, until=None)
    assert finding is not None and "median pause" in finding.message  # the wall clock alone: fails
    assert judge_rate_budget(api, until=None, waits=queued_in_every_pause(api, 0.2)) is None


def test_queueing_does_not_excuse_a_connector_that_sleeps() -> None:
    """Sleeping is not waiting for a CPU: a connector sleeping 300 ms that was also queued 50 ms
    in each pause still pauses 250 ms on its own clock."""
    api = serial(20, serve_ms=10, pause_ms=350)
    finding = judge_rate_budget(api, until=None, waits=queued_in_every_pause(api, 0.05))
    assert finding is not None
    assert "pause between an answer and its next request was 0.30 s" in finding.message
    assert "s its processes (or the embedded sandbox's threads) waited for a CPU left out" in finding.message
    assert round(finding.details["cpu_queued_seconds"], 2) == 0.95  # 19 pauses x 50 ms


def test_cpu_waits_while_the_sandbox_answers_are_not_taken_out_twice() -> None:
    api = log(request(1, time=10.0, latency_ms=100), request(2, time=10.5, latency_ms=100))
    # queued 0.3 s evenly over 10.0-10.6: 0.05 s of it while the sandbox had the first request
    clock = ConnectorClock(api, CpuWaits.of([(10.0, 0.0), (10.6, 0.3)]))
    assert round(clock(10.5), 3) == round(10.5 - 0.1 - 0.2, 3)


def test_hammering_the_limit_is_named() -> None:
    """flawed ignores_retry_after: retrying 50 ms after every 429."""
    api = serial(40, serve_ms=5, pause_ms=45, status=lambda i: 429 if i % 5 == 4 else 200)
    finding = judge_rate_budget(api, until=None)
    assert finding is not None
    assert "8 of its 40 API requests (20%) were answered 429" in finding.message
    assert "used only" not in finding.message


def _lanes(rounds: int, *, lanes: int, limited: set[int], start: float = 100.0, gap: float = 0.06):
    """`lanes` requests in flight together each round, sent 1 ms apart and answered in 20 ms;
    the rounds in `limited` are answered 429 on every lane."""
    entries, seq = [], 0
    for r in range(rounds):
        for lane in range(lanes):
            seq += 1
            status = 429 if r in limited else 200
            entries.append(request(seq, status, time=start + r * gap + lane * 0.001, latency_ms=20))
    return log(*entries)


def test_parallel_streams_meeting_the_limit_together_count_once() -> None:
    """async_parallel on a fast machine: its three streams reach the empty bucket together, all
    three in flight are answered 429, then it paces itself. One 429 counted, not three."""
    api = _lanes(12, lanes=3, limited={6})
    assert judge_rate_budget(api, until=None) is None


def test_parallel_streams_that_keep_meeting_the_limit_are_named() -> None:
    """A parallel connector that goes on at full speed after each 429: every round it sends after
    one reached it counts."""
    api = _lanes(12, lanes=3, limited={4, 6, 8})
    finding = judge_rate_budget(api, until=None)
    assert finding is not None
    assert "3 of its 36 API requests (8%) were answered 429 (6 more sent together" in finding.message


def test_the_paced_run_must_not_fail_and_must_make_requests() -> None:
    failed = ConnectorFailed("sync", RuntimeError("429 Too Many Requests"))
    finding = judge_paced_run(serial(3, serve_ms=5, pause_ms=5), failed, STREAMS)
    assert finding is not None and "the sync failed under a rate limit of 20 requests/s" in finding.message
    empty = judge_paced_run(log(), None, STREAMS)
    assert empty is not None and "made no API request at all" in empty.message
    assert judge_paced_run(serial(3, serve_ms=5, pause_ms=5), None, STREAMS) is None


# -- PERF-02 ---------------------------------------------------------------------------------------


def memory_run(*readings: tuple[float, int], pages: int = 120) -> MemoryRun:
    """A sync of 12,000 records watched from t=0 to t=10: (time, peak KiB) readings, its pages
    served evenly over it."""
    served = tuple(10 * (i + 1) / pages for i in range(pages))
    return MemoryRun(12_000, memory=PeakMemory.of(readings), pages=served, records=12_000)


def test_streaming_page_by_page_keeps_memory_flat() -> None:
    run = memory_run((0, 30_000), (2, 33_000), (10, 33_200))
    assert judge_memory_run("contacts", run) is None
    assert judge_memory_growth("contacts", run) is None


def test_a_heap_that_settles_higher_once_busy_is_not_holding_records() -> None:
    """Node's heap settles 15 MiB above its start-up, all of it in the first half of the pages."""
    run = memory_run((0, 80_000), (3, 93_000), (5, 94_000), (10, 94_500), pages=60)
    assert judge_memory_growth("contacts", run) is None


def test_holding_every_page_is_named() -> None:
    """flawed holds_every_page: every page read into memory before any record reaches the sink."""
    run = memory_run(*((t, 30_000 + t * 2 * 1024) for t in range(11)))
    finding = judge_memory_growth("contacts", run)
    assert finding is not None
    assert "rose by 10.0 MiB while the sandbox served the second half of 12,000 contacts" in finding.message
    assert "(29.3 MiB after the first page, 39.3 MiB at half-way, 49.3 MiB at the end)" in finding.message
    assert "it holds records in memory instead of streaming them" in finding.message
    assert finding.details["second_half_mib"] == 10.0


def test_the_rise_is_read_from_the_page_at_half_way() -> None:
    """3 MiB after the half-way page fails; the same 3 MiB just before it is warm-up."""
    late = memory_run((0, 30_000), (5.1, 30_000), (6, 33_072), pages=100)  # page 50 at t=5.0
    assert judge_memory_growth("contacts", late) is not None
    early = memory_run((0, 30_000), (4.9, 33_072), (10, 33_072), pages=100)
    assert judge_memory_growth("contacts", early) is None


def test_without_pages_in_the_log_the_second_half_is_half_the_watched_sync() -> None:
    run = memory_run(*((t, 30_000 + t * 2 * 1024) for t in range(11)), pages=0)
    assert run.halfway() == 5.0
    finding = judge_memory_growth("contacts", run)
    assert finding is not None and "rose by 10.0 MiB" in finding.message


def test_a_memory_run_that_did_not_complete_is_named() -> None:
    slow = MemoryRun(12_000, records=3_000, problem="it did not finish within 60 s")
    finding = judge_memory_run("contacts", slow)
    assert finding is not None and "the sync of 12,000 contacts records did not complete" in finding.message
    short = MemoryRun(12_000, records=11_000)
    finding = judge_memory_run("contacts", short)
    assert finding is not None and "it wrote 11,000 records" in finding.message
