from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.synth import DEFAULT_CLOCK, Dataset, Overlay, SynthError, load_profiles, profile, rfc3339
from harness.synth.overlay import START

SIZES = {"contacts": 30, "companies": 10, "deals": 10}
EVERYTHING = 10**6
RTL = ("\u0590", "\u08ff")  # Hebrew through Arabic Extended-A


@pytest.fixture(scope="module")
def dataset(platform_contract):
    return Dataset(platform_contract, seed=3, sizes=SIZES)


def _ids(records):
    return [r["id"] for r in records]


def _all(ov, collection="contacts", since=None):
    return ov.page(collection, START, EVERYTHING, since=since)[0]


def _errors(contract, collection, record):
    validator = contract.validator(contract.collections[collection].item_schema_uri)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(record)]


def _apply(ov, ops, collection="contacts"):
    """Apply drawn (kind, pick) ops to live records; returns the changes made."""
    made = []
    for kind, pick in ops:
        live = _ids(_all(ov, collection))
        if kind == "create" or not live:
            ov.create(collection)
        elif kind == "update":
            ov.update(collection, live[pick % len(live)], {"first_name": f"Changed{len(ov.changes)}"})
        else:
            ov.delete(collection, live[pick % len(live)])
        made.append(ov.changes[-1])
    return made


OPS = st.lists(st.tuples(st.sampled_from(["create", "update", "delete"]), st.integers(0, 1000)), max_size=6)


# -- change log -----------------------------------------------------------------------------------


def test_each_write_appends_one_change_with_the_next_seq_and_a_ticking_clock(dataset):
    ov = Overlay(dataset)
    created = ov.create("contacts", {"first_name": "Ada"})
    ov.update("contacts", created["id"], {"last_name": "Lovelace"})
    ov.delete("contacts", created["id"])
    assert [(c.seq, c.type, c.collection, c.id) for c in ov.changes] == [
        (1, "created", "contacts", created["id"]),
        (2, "updated", "contacts", created["id"]),
        (3, "deleted", "contacts", created["id"]),
    ]
    assert [c.time for c in ov.changes] == [DEFAULT_CLOCK + timedelta(seconds=s) for s in (1, 2, 3)]
    assert ov.changes[1].record["last_name"] == "Lovelace"
    assert ov.changes[2].record is None


def test_advance_moves_the_clock_and_the_next_change_follows_it(dataset):
    ov = Overlay(dataset)
    ov.create("contacts")
    assert ov.advance(3600) == DEFAULT_CLOCK + timedelta(seconds=3601)
    record = ov.create("deals")
    change = ov.changes[-1]
    assert change.time == DEFAULT_CLOCK + timedelta(seconds=3602)
    assert record["updated_at"] == change.record["updated_at"] == rfc3339(change.time)


def test_changes_since_returns_the_slice_after_a_seq(dataset):
    ov = Overlay(dataset)
    for _ in range(6):
        ov.create("companies")
    assert [c.seq for c in ov.changes_since()] == [1, 2, 3, 4, 5, 6]
    assert [c.seq for c in ov.changes_since(2)] == [3, 4, 5, 6]
    assert [c.seq for c in ov.changes_since(2, limit=2)] == [3, 4]
    assert ov.changes_since(6) == []


# -- reads after writes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contract_name", "collection"),
    [
        ("platform", "contacts"),
        ("ticketing", "tickets"),
        ("inventory", "products"),
        ("inventory", "warehouses"),
    ],
)
def test_created_record_reads_back_valid_with_a_fresh_prefixed_id(request, contract_name, collection):
    contract = request.getfixturevalue(f"{contract_name}_contract")
    col = contract.collections[collection]
    ds = Dataset(contract, seed=1, sizes={collection: 5})
    ov = Overlay(ds)
    record = ov.create(collection)
    record_id = record[col.id_field]
    assert ov.get(collection, record_id) == record
    assert str(record_id).startswith(col.id_prefix)
    assert record_id not in {ds.id_of(collection, i) for i in range(5)}
    assert _errors(contract, collection, record) == []
    stamp = rfc3339(ov.changes[-1].time)
    for name in ("created_at", col.updated_field):
        if name and name in record:
            assert record[name] == stamp


def test_fields_passed_to_create_win(platform_contract, dataset):
    ov = Overlay(dataset)
    record = ov.create("contacts", {"first_name": "Grace", "tags": ["vip"]})
    assert (record["first_name"], record["tags"]) == ("Grace", ["vip"])
    assert _errors(platform_contract, "contacts", record) == []


def test_update_merges_fields_keeps_id_and_bumps_updated_at(dataset):
    ov = Overlay(dataset)
    original = dataset.record("contacts", 4)
    ov.advance(60)
    updated = ov.update("contacts", original["id"], {"first_name": "Zed", "id": "con_hijackedhijacked"})
    assert updated == ov.get("contacts", original["id"])
    assert updated["id"] == original["id"]
    assert updated["first_name"] == "Zed"
    assert updated["last_name"] == original["last_name"]
    assert updated["updated_at"] == rfc3339(ov.changes[-1].time) > original["updated_at"]
    assert dataset.record("contacts", 4) == original


def test_delete_hides_the_record_and_missing_ids_are_reported(dataset):
    ov = Overlay(dataset)
    original = dataset.record("contacts", 2)
    assert ov.delete("contacts", original["id"]) is True
    assert ov.get("contacts", original["id"]) is None
    assert ov.delete("contacts", original["id"]) is False
    assert ov.update("contacts", original["id"], {"first_name": "X"}) is None
    assert ov.get("contacts", "con_doesnotexist0000") is None
    assert len(ov.changes) == 1
    assert dataset.record("contacts", 2) == original


# -- ordering and paging --------------------------------------------------------------------------


def test_page_lists_base_in_index_order_then_changes_in_change_order(dataset):
    ov = Overlay(dataset)
    base = [dataset.id_of("contacts", i) for i in range(SIZES["contacts"])]
    ov.update("contacts", base[3], {"first_name": "A"})
    created = ov.create("contacts")["id"]
    ov.update("contacts", base[7], {"first_name": "B"})
    ov.delete("contacts", base[5])
    untouched = [b for i, b in enumerate(base) if i not in (3, 5, 7)]
    assert _ids(_all(ov)) == [*untouched, base[3], created, base[7]]
    ov.update("contacts", base[3], {"first_name": "C"})
    assert _ids(_all(ov)) == [*untouched, created, base[7], base[3]]
    assert ov.count("contacts") == len(untouched) + 3
    assert _all(ov)[-1]["first_name"] == "C"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(1, 7), gaps=st.lists(OPS, max_size=12))
def test_paging_is_stable_while_data_changes(dataset, limit, gaps):
    ov = Overlay(dataset)
    at_start = set(_ids(_all(ov)))
    seen: dict[str, list[tuple[int, dict]]] = {}
    deleted_at: dict[str, int] = {}
    updated_at: dict[str, list[int]] = {}
    created: set[str] = set()
    key, step = START, 0
    while key is not None:
        records, key = ov.page("contacts", key, limit)
        for record in records:
            seen.setdefault(record["id"], []).append((step, record))
        step += 1
        for change in _apply(ov, gaps[step - 1] if step <= len(gaps) and key is not None else []):
            if change.type == "deleted":
                deleted_at[change.id] = step
            elif change.type == "updated":
                updated_at.setdefault(change.id, []).append(step)
            else:
                created.add(change.id)
        assert step < 200, "paging did not finish"
    live_at_end = set(_ids(_all(ov)))
    assert (at_start - set(deleted_at)) <= set(seen)
    assert (created - set(deleted_at)) <= set(seen)
    assert live_at_end <= set(seen)
    for record_id, sightings in seen.items():
        if record_id in deleted_at:  # never seen after its deletion
            assert all(s < deleted_at[record_id] for s, _ in sightings)
        for (before, first), (after, later) in pairwise(sightings):
            assert any(before < u <= after for u in updated_at.get(record_id, [])), "seen twice, unchanged"
            assert later["updated_at"] > first["updated_at"]
        if record_id in live_at_end:
            assert sightings[-1][1] == ov.get("contacts", record_id)


# -- key_at and since -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(ops=OPS, cut=st.integers(0, SIZES["contacts"] - 1), use_since=st.booleans())
def test_key_at_agrees_with_page(dataset, ops, cut, use_since):
    ov = Overlay(dataset)
    ov.update("contacts", dataset.id_of("contacts", 0), {"first_name": "Early"})
    ov.delete("contacts", dataset.id_of("contacts", cut))
    _apply(ov, ops)
    since = dataset.updated_at("contacts", cut) if use_since else None
    full = _all(ov, since=since)
    assert ov.count("contacts", since=since) == len(full)
    for offset in range(len(full) + 3):
        records, _ = ov.page("contacts", ov.key_at("contacts", offset, since=since), 1, since=since)
        assert records == full[offset : offset + 1], offset


def test_since_returns_exactly_the_live_records_changed_at_or_after(dataset):
    ov = Overlay(dataset)
    base = [dataset.id_of("contacts", i) for i in range(SIZES["contacts"])]
    ov.update("contacts", base[1], {"first_name": "Old"})
    ov.delete("contacts", base[25])
    ov.advance(100)
    ov.create("contacts")
    ov.update("contacts", base[27], {"first_name": "New"})
    every = _all(ov)
    candidates = [dataset.updated_at("contacts", i) for i in (0, 10, 20, 29)]
    candidates += [c.time for c in ov.changes] + [ov.clock + timedelta(seconds=1)]
    for since in candidates:
        expected = [r for r in every if r["updated_at"] >= rfc3339(since)]
        assert _all(ov, since=since) == expected, since
        assert ov.count("contacts", since=since) == len(expected)
    latest = _ids(_all(ov, since=ov.changes[-1].time))
    assert latest == [base[27]]


# -- churn ----------------------------------------------------------------------------------------


def test_churn_is_deterministic_per_seed(platform_contract):
    def run(seed):
        ov = Overlay(Dataset(platform_contract, seed=9, sizes=SIZES))
        made = ov.churn(40, seed=seed)
        assert made == ov.changes
        return [(c.type, c.collection, c.id, c.record) for c in made]

    first = run(5)
    assert first == run(5)
    assert first != run(6)
    assert {t for t, *_ in first} == {"created", "updated", "deleted"}


def test_churn_keeps_to_the_given_collections(dataset):
    ov = Overlay(dataset)
    assert {c.collection for c in ov.churn(20, seed=1, collections=["deals"])} == {"deals"}


# -- profiles -------------------------------------------------------------------------------------


def test_every_fixture_profile_loads():
    profiles = load_profiles()
    assert {"small", "empty", "large", "edge", "i18n"} <= set(profiles)
    assert profile("edge").edge == 0.5
    assert profile("empty").default_size == 0


def test_dataset_options_size_every_collection(platform_contract, ticketing_contract):
    large = profile("large")
    assert large.dataset_options(platform_contract)["sizes"] == {
        "contacts": 100000,
        "companies": 10000,
        "deals": 10000,
    }
    assert large.dataset_options(platform_contract, {"contacts": 7})["sizes"]["contacts"] == 7
    assert large.dataset_options(ticketing_contract)["sizes"] == {"tickets": 10000, "agents": 10000}
    options = profile("i18n").dataset_options(platform_contract)
    assert (options["locale"], options["window"]) == ("ja_JP", timedelta(days=365))


def test_misspelled_profile_suggests_the_close_name():
    with pytest.raises(SynthError, match="'edge'"):
        profile("egde")


@pytest.mark.parametrize(
    "text",
    ["[odd]\nsizez = { contacts = 3 }\n", "[odd]\nnull_share = 1.5\n", "[odd]\nedge = -0.1\n"],
    ids=["unknown-key", "null-share-above-one", "edge-below-zero"],
)
def test_bad_profiles_file_raises(tmp_path, text):
    path = tmp_path / "profiles.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SynthError):
        load_profiles(path)


def test_edge_profile_reaches_extremes_and_stays_valid(platform_contract):
    ds = Dataset(platform_contract, seed=1, **profile("edge").dataset_options(platform_contract))
    for name in ds.collections:
        for record in ds.records(name, 0, 60):
            assert _errors(platform_contract, name, record) == []
    contacts = list(ds.records("contacts", 0, 200))
    assert all(_errors(platform_contract, "contacts", r) == [] for r in contacts)
    limits = {
        k: s["maxLength"]
        for k, s in platform_contract.collections["contacts"].item_schema["properties"].items()
        if "maxLength" in s
    }
    hostile = [
        r[k]
        for r in contacts
        for k, limit in limits.items()
        if isinstance(r[k], str) and len(r[k]) == limit
        if any(ord(ch) > 0xFFFF for ch in r[k]) and any(RTL[0] <= ch <= RTL[1] for ch in r[k])
    ]
    assert hostile
    assert any(r["tags"] == [] for r in contacts)
    assert any(r["phone"] is None for r in contacts)


def test_i18n_profile_gives_non_ascii_names(platform_contract):
    ds = Dataset(platform_contract, seed=1, **profile("i18n").dataset_options(platform_contract))
    assert all(not r["first_name"].isascii() for r in ds.records("contacts", 0, 50))
