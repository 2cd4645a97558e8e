"""bench/fidelity.py reads schemathesis' NDJSON: the copies `ignored_auth` sends without a valid
credential are not valid requests, so their 401s count neither as refusals nor as
non-conforming answers; a 401 to an original case still counts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _fidelity():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("fidelity_bench", BENCH / "fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _case(parent=None, transition=False):
    meta = {"generation": {"mode": "positive"}}
    return {"value": {"meta": meta}, "parent_id": parent, "is_transition_applied": transition}


def _failure(name):
    return {
        "name": name,
        "status": "failure",
        "failure_info": {"failure": {"title": "Undocumented", "message": "401"}},
    }


def test_ignored_auth_copies_are_left_out_and_original_refusals_counted(tmp_path):
    fidelity = _fidelity()
    recorder = {
        "label": "GET /boards/{id}",
        "cases": {"a": _case(), "probe": _case(parent="a"), "step": _case(parent="a", transition=True)},
        "interactions": {
            "a": {"response": {"status_code": 200}},
            "probe": {"response": {"status_code": 401}},
            "step": {"response": {"status_code": 401}},
        },
        "checks": {
            "probe": [_failure("status_code_conformance")],
            "step": [_failure("status_code_conformance")],
        },
    }
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps({"ScenarioFinished": {"recorder": recorder}}) + "\n")
    result = fidelity.Result("trello", "x")
    fidelity.parse_events(events, result)
    assert (result.auth_probes, result.positive_cases, result.auth_refused_valid) == (1, 2, 1)
    assert (result.operations, result.nonconforming) == (1, 1)  # the stateful step's 401 still counts


def test_a_sandbox_that_logs_more_than_a_pipe_holds_still_answers(tmp_path):
    """The sandbox's stderr is never a pipe nobody reads: 1 MB of tracebacks (one per 500 on
    DigitalOcean's document, each printing it whole) would block its next write and every
    request after would hang. Here the child logs 1 MB, then says ready and answers a line."""
    fidelity = _fidelity()
    child = (
        "import sys\n"
        "sys.stderr.write('x' * (1 << 20) + '\\nlast words\\n'); sys.stderr.flush()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    server, ready, errors = fidelity.start_server([sys.executable, "-c", child], {})
    try:
        assert ready.wait(20), "the child blocked writing its stderr"
    finally:
        server.kill()
        server.wait(10)
    assert fidelity._tail(errors).endswith("last words")
    errors.close()
