"""A short campaign finds each flawed connector's defect with a minimal input, and nothing on the
reference connector; a saved finding replays identically, and a campaign resumes."""

from __future__ import annotations

import base64
import json

import pytest

from harness.fuzz.soak import MIN_SYNCS
from tests.fuzz.conftest import FLAWED, FUZZ_CONNECTORS, REFERENCE, Result, campaign, fuzz

# Each target's budget: the flawed connector's campaign finds its defect within it (on an idle
# machine the first failing example comes after 2-10 s), and the reference connector must show no
# finding in the same budget, one campaign per target (they run side by side under xdist).
BUDGET = {
    "responses": "20s",
    "faults": "15s",
    "state": "40s",
    "webhooks": "15s",
    "canaries": "15s",
    "soak": "10s",
}


@pytest.fixture(scope="module")
def webhook_campaign(tmp_path_factory: pytest.TempPathFactory) -> Result:
    directory = tmp_path_factory.mktemp("webhooks") / "campaign"
    return campaign(
        None,
        directory,
        FLAWED / "crashes_on_unknown_event",
        "webhooks",
        BUDGET["webhooks"],
        "--shrink-seconds",
        "20",
    )


def only(result: Result, oracle: str) -> dict:
    matching = [f for f in result.findings if f["oracle"] == oracle]
    assert matching, f"no {oracle} finding; findings: {[f['key'] for f in result.findings]}"
    return matching[0]


def test_hostile_responses_find_the_non_latin_crash_with_one_record(capsys, tmp_path):
    result = campaign(
        capsys,
        tmp_path / "c",
        FLAWED / "crashes_on_non_latin_text",
        "responses",
        BUDGET["responses"],
        "--shrink-seconds",
        "30",
        "--max-findings",
        "1",
    )
    assert result.status == 1
    finding = only(result, "crash")
    assert finding["key"].startswith("crash:UnicodeEncodeError at flawed_crashes_on_non_latin_text.py:")
    assert finding["key"].endswith(" in _store")
    shrunk = finding["input"]
    assert sum(shrunk["sizes"].values()) + len(shrunk["plant"]) == 1  # one record is all it takes
    assert finding["replay"].startswith("harness fuzz --connector ")
    assert "--replay" in finding["replay"]


def test_webhook_deliveries_find_the_unknown_event_crash_with_a_tiny_body(webhook_campaign):
    assert webhook_campaign.status == 1
    # its dispatch table raises on a body that is no event; the same defect can also surface one
    # frame further in (`_store` given a non-object), a finding of its own: look for the dispatch
    crashes = [f for f in webhook_campaign.findings if f["oracle"] == "crash"]
    finding = next((f for f in crashes if "_apply_webhook" in f["key"]), None)
    assert finding is not None, [f["key"] for f in crashes]
    assert finding["target"] == "webhooks"
    body = base64.b64decode(finding["input"]["body"])
    assert len(body) <= 4, body  # shrunk to something like `[]`, `{}` or `0`


def test_schemathesis_negative_cases_find_the_endpoint_that_answers_5xx_on_a_broken_event(capsys, tmp_path):
    connector = FUZZ_CONNECTORS / "trusts_event_shape"
    result = campaign(
        capsys, tmp_path / "c", connector, "webhooks", BUDGET["webhooks"], "--shrink-seconds", "20"
    )
    assert result.status == 1
    finding = only(result, "5xx")
    assert finding["input"]["source"].startswith("schemathesis")  # raw bytes cannot make such an event
    event = json.loads(base64.b64decode(finding["input"]["body"]))
    assert event["type"] in ("contact.created", "contact.updated")
    assert (
        not isinstance(event.get("data"), dict)
        or "email" not in event["data"]
        or not isinstance(event["data"]["email"], str)
    )


def test_interleavings_find_the_keeps_first_event_divergence_in_a_short_program(capsys, tmp_path):
    result = campaign(
        capsys,
        tmp_path / "c",
        FLAWED / "keeps_first_event",
        "state",
        BUDGET["state"],
        "--shrink-seconds",
        "60",
        "--max-findings",
        "1",
    )
    assert result.status == 1
    # the campaign ended at its first finding instead of spending the rest of the budget
    assert len(result.findings) == 1 and "stopping: 1 new finding(s) filed" in result.err
    finding = only(result, "divergence")
    steps = [s["op"] for s in finding["input"]["steps"]]
    assert steps[0] == "full sync" and steps[-1] == "sync"
    # Shrinking is bounded in time, so how short it gets depends on the machine; what holds on any
    # machine is that the filed program is no longer than the first failing one seen for it.
    failures = [json.loads(line) for line in (tmp_path / "c" / "failures.jsonl").read_text().splitlines()]
    first = next(f["input"] for f in failures if f["key"] == finding["key"])
    assert len(steps) <= len(first["steps"]), (steps, first["steps"])
    assert "incremental sync, the replica differs from the platform" in finding["message"]


def test_canaries_find_undeclared_fields_in_its_logs_with_one_slot_and_one_change(capsys, tmp_path):
    connector = FUZZ_CONNECTORS / "logs_changed_records"
    result = campaign(
        capsys,
        tmp_path / "c",
        connector,
        "canaries",
        BUDGET["canaries"],
        "--shrink-seconds",
        "20",
        "--max-findings",
        "1",
    )
    assert result.status == 1
    finding = only(result, "canary")
    assert finding["key"] == "canary:contacts in its logs"
    assert "a field it does not declare, appears in its logs" in finding["message"]
    (plant,) = finding["input"]["plant"]  # shrunk to one changed record with one canary
    assert plant["later"] is True and len(plant["slots"]) == 1


def test_soak_finds_memory_that_rises_sync_after_sync_with_the_fewest_syncs(capsys, tmp_path):
    connector = FUZZ_CONNECTORS / "grows_per_sync"
    result = campaign(
        capsys,
        tmp_path / "c",
        connector,
        "soak",
        BUDGET["soak"],
        "--shrink-seconds",
        "20",
        "--max-findings",
        "1",
    )
    assert result.status == 1
    finding = only(result, "memory")
    assert finding["key"] == "memory:growth across syncs"
    assert finding["input"]["syncs"] == MIN_SYNCS  # shrunk to the fewest syncs that make a trend


@pytest.mark.parametrize("target", list(BUDGET))
def test_the_reference_connector_has_no_finding_in_the_same_budget(capsys, tmp_path, target):
    result = campaign(capsys, tmp_path / "c", REFERENCE, target, BUDGET[target], "--shrink-seconds", "20")
    assert result.status == 0, result.findings
    report = result.report
    assert report["findings"] == []
    assert report["stats"][target]["examples"] > 0, target
    if target in ("responses", "faults", "state"):  # the targets that run whole syncs
        assert set(report["coverage"]["operations_known"]) <= set(report["coverage"]["operations"])
    if target == "faults":
        assert report["coverage"]["fault_kinds"], "no fault fired in the faults target"
    assert "<h2>Findings</h2><p>none</p>" in (result.dir / "report.html").read_text()
    assert "0 finding(s)" in result.out


def test_a_saved_finding_replays_identically(capsys, webhook_campaign):
    finding = only(webhook_campaign, "crash")
    path = webhook_campaign.dir / "findings" / f"{finding['id']}.json"
    runs = [fuzz(capsys, "--replay", str(path)) for _ in range(2)]
    for status, out, _ in runs:
        assert status == 1
        assert "reproduced in " in out
        assert finding["message"] in out
    fixed = fuzz(capsys, "--connector", str(REFERENCE), "--replay", str(path))
    assert fixed[0] == 0 and "no longer fails" in fixed[1]


def test_resume_continues_the_campaign_and_files_no_finding_twice(capsys, webhook_campaign):
    before = webhook_campaign.report
    status, _, _ = fuzz(capsys, "--dir", str(webhook_campaign.dir), "--resume", "--budget", "6s")
    after = webhook_campaign.report
    assert status == 1  # the campaign still has its findings
    assert after["stats"]["webhooks"]["examples"] > before["stats"]["webhooks"]["examples"]
    assert after["elapsed"] > before["elapsed"]
    keys = [f["key"] for f in after["findings"]]
    assert set(keys) >= {f["key"] for f in before["findings"]}  # nothing found before is lost
    assert len(keys) == len(set(keys))  # and nothing is filed twice (a new defect may be found)
    assert len(list((webhook_campaign.dir / "findings").glob("*.json"))) == len(keys)
    failures = (webhook_campaign.dir / "failures.jsonl").read_text().splitlines()
    assert len(failures) >= len(before["findings"])  # every failing example is kept
