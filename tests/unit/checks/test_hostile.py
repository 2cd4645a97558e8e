"""RES-04's judgement of one hostile example, from hand-built records and replicas."""

from __future__ import annotations

from typing import Any

from harness.checks.hostile import SchemaError, judge_hostile
from harness.connectors import ConnectorFailed, ConnectorTimeout

IDS = {"contacts": "id"}
SIZES = {"contacts": 2}
TRUTH = {"contacts": [{"id": "con_1", "name": "Ünïcødé ✓"}, {"id": "con_2", "name": "עברית", "tags": []}]}


def rows(*records: dict[str, Any]) -> dict[str, dict[Any, dict[str, Any]]]:
    return {"contacts": {r["id"]: r for r in records}}


def judge(error: Any = None, stored: Any = None, schema: Any = None, **kw: Any) -> Any:
    stored = rows(*TRUTH["contacts"]) if stored is None else stored
    return judge_hostile(error, TRUTH, stored, IDS, schema or {}, seed=42, sizes=SIZES, **kw)


def test_every_record_stored_as_served_passes() -> None:
    assert judge() is None


def test_a_crash_names_the_error_the_input_and_the_last_record() -> None:
    finding = judge(ConnectorFailed("sync(state)", UnicodeEncodeError("latin-1", "ע", 0, 1, "no")))
    assert finding is not None
    assert finding.message.startswith("crashed on a schema-valid page: sync(state) raised UnicodeEncodeError")
    assert (
        "minimal failing input (shrunk by hypothesis): an edge-profile tenant with seed 42 and contacts=2"
        in (finding.message)
    )
    assert finding.message.endswith('; the record: {"id": "con_2", "name": "עברית", "tags": []}')
    assert finding.details["record"] == TRUTH["contacts"][1] and finding.details["seed"] == 42


def test_a_hang_is_named_a_hang() -> None:
    finding = judge(ConnectorTimeout("sync(state)", 15.0))
    assert finding is not None and finding.message.startswith("hung on a schema-valid page")


def test_a_lost_record_fails() -> None:
    finding = judge(stored=rows(TRUTH["contacts"][0]))
    assert finding is not None
    assert finding.message.startswith("lost 1 of 2 contacts record(s) (e.g. con_2) from a schema-valid page")
    assert finding.expected == "every record stored exactly as the platform served it"


def test_an_altered_value_fails_naming_the_field() -> None:
    finding = judge(stored=rows(TRUTH["contacts"][0], {"id": "con_2", "name": "?????", "tags": []}))
    assert finding is not None
    assert finding.message.startswith("stored 1 contacts record(s) with altered values (e.g. con_2: name)")
    assert finding.details["stored"] == {"id": "con_2", "name": "?????", "tags": []}


def test_fields_the_replica_does_not_keep_are_not_compared() -> None:
    stored = rows({"id": "con_1", "name": "Ünïcødé ✓"}, {"id": "con_2", "name": "עברית"})
    assert judge(stored=stored) is not None
    names_only = judge(stored=stored, expected=lambda stream, r: {k: v for k, v in r.items() if k != "tags"})
    assert names_only is None


def test_a_stored_row_that_breaks_the_schema_fails() -> None:
    bad = SchemaError("con_1", {"id": "con_1", "name": 7}, "/name", "7 is not of type 'string'")
    finding = judge(schema={"contacts": bad})
    assert finding is not None
    assert finding.message.startswith(
        "stored a contacts record that breaks the schema (con_1 at /name: 7 is not of type 'string')"
    )
    assert finding.expected == "stored records conform to the collection schema"
