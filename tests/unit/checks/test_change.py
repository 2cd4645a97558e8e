"""CHG-01's judgement from recorded evidence: the clean outcome passes, each defect is named."""

from __future__ import annotations

from harness.checks.change import additions, judge_tolerated
from harness.checks.context import StreamDiff
from harness.connectors import ConnectorFailed
from harness.contract.evolve import Evolution

EVOLUTION = Evolution(
    7,
    fields={"contacts": ("evolved_rank",), "deals": ("evolved_tier",)},
    enums={"contacts": {"lifecycle_stage": "archived_v2"}},
    deprecated={"listContacts": {"Deprecation": "@1798761600", "Sunset": "Thu, 01 Jul 2027 00:00:00 GMT"}},
    events={"contacts": "contact.merged"},
)
STREAMS = ["contacts", "deals"]


def failed(error: Exception) -> ConnectorFailed:
    return ConnectorFailed("sync(state)", error)


def test_completed_syncs_with_an_equal_replica_pass() -> None:
    assert judge_tolerated(None, "the incremental sync", EVOLUTION, STREAMS, []) is None


def test_what_the_version_adds_is_listed_per_synced_stream() -> None:
    assert additions(EVOLUTION, STREAMS) == [
        "contacts: field evolved_rank, lifecycle_stage = 'archived_v2', change feed event 'contact.merged'",
        "deals: field evolved_tier",
    ]
    assert additions(EVOLUTION, ["companies"]) == []


def test_a_connector_refusing_the_new_field_is_named() -> None:
    error = failed(TypeError("Contact.__init__() got an unexpected keyword argument 'evolved_rank'"))
    finding = judge_tolerated(error, "the full sync", EVOLUTION, STREAMS, [])
    assert finding is not None
    assert finding.message.startswith("rejected the new optional field contacts.evolved_rank")
    assert "failed in the full sync" in finding.message and "unknown fields" in finding.message


def test_a_connector_refusing_the_new_enum_value_is_named() -> None:
    error = failed(ValueError("'archived_v2' is not a valid LifecycleStage"))
    finding = judge_tolerated(error, "the full sync", EVOLUTION, STREAMS, [])
    assert finding is not None
    assert finding.message.startswith("rejected the new enum value 'archived_v2' of contacts.lifecycle_stage")


def test_a_failure_naming_neither_still_fails_with_what_was_added() -> None:
    finding = judge_tolerated(failed(KeyError("x")), "check()", EVOLUTION, STREAMS, [])
    assert finding is not None
    assert finding.message.startswith("broke on the next additive version: failed in check()")
    assert "evolved_tier" in finding.message


def test_a_lost_or_altered_record_fails_after_completed_syncs() -> None:
    diff = StreamDiff("contacts", 20, lost=["con_1"], stale=["con_2"], fields={"con_2": ["lifecycle_stage"]})
    finding = judge_tolerated(None, "the incremental sync", EVOLUTION, STREAMS, [diff])
    assert finding is not None
    assert "the replica differs from the platform on the published fields" in finding.message
    assert "lost 1 of 20 records (e.g. con_1)" in finding.message and "lifecycle_stage" in finding.message


def test_a_connector_raising_on_the_new_event_type_is_named() -> None:
    for text in ("unknown event type 'contact.merged'", "no handler for action 'merged'"):
        finding = judge_tolerated(failed(ValueError(text)), "the incremental sync", EVOLUTION, STREAMS, [])
        assert finding is not None
        assert finding.message.startswith("rejected the new change feed event type 'contact.merged'")
        assert "failed in the incremental sync" in finding.message
    unrelated = judge_tolerated(
        failed(ValueError("the branches merged badly")), "check()", EVOLUTION, STREAMS, []
    )
    assert unrelated is not None and unrelated.message.startswith("broke on the next additive version")
