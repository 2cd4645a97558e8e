"""`harness fuzz` usage errors exit 2 with a message naming the problem; the oracles' locations."""

from __future__ import annotations

import json

import pytest

from harness.fuzz.findings import FORMAT, Finding
from harness.fuzz.oracles import Problem, frame_of, leak_problem
from tests.fuzz.conftest import REFERENCE, fuzz


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--connector", str(REFERENCE), "--budget", "ten minutes"], "is not a budget"),
        (["--connector", str(REFERENCE), "--targets", "responses,networks"], "unknown target(s) networks"),
        (["--budget", "1s"], "--connector is required"),
        (["--connector", "no/such/connector", "--budget", "1s"], "no/such/connector"),
    ],
)
def test_usage_errors_exit_2_and_say_why(capsys, tmp_path, args, words):
    status, _, err = fuzz(capsys, *args, "--dir", str(tmp_path / "c"))
    assert status == 2
    assert words in err


def test_resume_needs_a_campaign_and_a_campaign_needs_resume(capsys, tmp_path):
    status, _, err = fuzz(capsys, "--dir", str(tmp_path), "--resume")
    assert status == 2 and "holds no campaign" in err
    (tmp_path / "campaign.json").write_text(json.dumps({"connector": str(REFERENCE)}))
    status, _, err = fuzz(capsys, "--connector", str(REFERENCE), "--dir", str(tmp_path), "--budget", "1s")
    assert status == 2 and "already holds a campaign" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"format": "something/else"}), "not a fuzz finding"),
        (json.dumps({"format": FORMAT, "key": "crash:x", "oracle": "crash"}), "lacks input, target"),
        (
            json.dumps({"format": FORMAT, "key": "k", "oracle": "crash", "target": "dns", "input": {}}),
            "unknown target 'dns'",
        ),
    ],
)
def test_a_bad_finding_file_is_a_usage_error_naming_the_file(capsys, tmp_path, content, words):
    path = tmp_path / "finding.json"
    path.write_text(content)
    status, _, err = fuzz(capsys, "--connector", str(REFERENCE), "--replay", str(path))
    assert status == 2
    assert str(path) in err and words in err


def test_a_crash_is_located_in_the_connectors_own_code_not_the_library_it_called():
    traceback = (
        'File "/src/acme/connector.py", line 420, in handle_webhook\n'
        'File "/usr/lib/python3.11/json/decoder.py", line 353, in raw_decode\n'
    )
    assert frame_of(traceback, ("/src/acme",)) == "connector.py:420 in handle_webhook"
    assert frame_of(traceback) == "decoder.py:353 in raw_decode"


def test_findings_are_deduplicated_by_oracle_and_location():
    one = Problem("crash", "raised KeyError: 'type'", "KeyError at c.py:3 in f")
    other_input = Problem("crash", "raised KeyError: 'kind'", "KeyError at c.py:3 in f")
    elsewhere = Problem("crash", "raised KeyError: 'type'", "KeyError at c.py:9 in g")
    assert one.key == other_input.key != elsewhere.key
    ids = {
        Finding(p.key, p.oracle, "webhooks", p.message, {}, "", "c", None, 0.0, 0).id
        for p in (one, other_input)
    }
    assert len(ids) == 1


def test_a_credential_or_canary_in_any_output_is_a_leak():
    secrets = {"the client secret": "cs_live_0123456789abcdefghij"}
    clean = [("its logs", "synced 3 records"), ("its stored records", '{"note": "cnry0123456789ab"}')]
    assert leak_problem(secrets, clean) is None  # a record may hold any text the platform served
    leaked = leak_problem(secrets, [("its stderr", "auth with cs_live_0123456789abcdefghij failed")])
    assert leaked is not None and leaked.key == "leak:the client secret in its stderr"
    canary = leak_problem({}, [("its logs", "field note=cnry0123456789ab")])
    assert canary is not None and canary.oracle == "leak"
