"""Nested streams synced under every parent (`[connector.parents]`): the manifest names the
collection the contract nests the stream under, checks give the parent records and judge the
stream across every parent, and the sandbox keeps parents with children still while it churns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.checks.context import NESTED_PARENTS, PARENT_RECORDS, CheckContext
from harness.checks.integrity import judge_full_sync
from harness.checks.resilience import judge_request_count
from harness.connectors.manifest import ManifestError, load_manifest
from harness.contract import load
from harness.sandbox.store.scoped import PARENTS_PER_COLLECTION, Placement, ScopedOverlay
from harness.synth import Dataset
from tests.conftest import ROOT
from tests.unit.checks.evidence import log, request, stream_diff

GITHUB = load(ROOT / "tests" / "contracts" / "github_like.openapi.yaml")
MANIFEST = """
[connector]
name = "n"
version = "1"
python = "m:C"
scopes = []
streams = ["issues"]
[connector.parents]
{entry}
"""


def manifest(tmp_path: Path, entry: str) -> Any:
    path = tmp_path / "connector.toml"
    path.write_text(MANIFEST.format(entry=entry))
    return load_manifest(path, GITHUB)


def test_a_manifest_names_the_collection_the_contract_nests_the_stream_under(tmp_path: Path) -> None:
    assert manifest(tmp_path, 'issues = "repos"').parents == {"issues": "repos"}
    with pytest.raises(ManifestError, match="nests issues under 'repos'") as wrong:
        manifest(tmp_path, 'issues = "comments"')
    assert 'issues = "repos"' in str(wrong.value)
    with pytest.raises(ManifestError, match="not one of its streams"):
        manifest(tmp_path, 'comments = "repos"')


def test_a_stream_nested_under_no_collection_cannot_be_declared(tmp_path: Path) -> None:
    path = tmp_path / "connector.toml"
    path.write_text(MANIFEST.replace('["issues"]', '["repos"]').format(entry='repos = "issues"'))
    with pytest.raises(ManifestError, match="is nested under no collection"):
        load_manifest(path, GITHUB)


def test_the_harness_passes_the_parents_in_the_config(tmp_path: Path) -> None:
    class Tenant:
        base_url = "http://sandbox.test/t/1"

        def connector_config(self, scopes: Any, extra: Any, secret: Any) -> dict[str, Any]:
            return {"base_url": self.base_url}

    config = manifest(tmp_path, 'issues = "repos"').connector_config(Tenant())
    assert config["parents"] == {"issues": "repos"}


def test_checks_give_parent_records_and_pages_under_each_parent(tmp_path: Path) -> None:
    asked: dict[str, Any] = {}

    class Sandbox:
        def new_tenant(self, **kw: Any) -> Any:
            asked.update(kw)
            return type("T", (), {"info": {}})()

    ctx = CheckContext("INT-01", Sandbox(), GITHUB, manifest(tmp_path, 'issues = "repos"'), 1)  # type: ignore[arg-type]
    assert ctx.pages("issues", 2) == 200 * NESTED_PARENTS
    ctx.tenant({"issues": 10, "repos": 0})
    assert asked["sizes"]["repos"] == PARENT_RECORDS and asked["sizes"]["issues"] == 10
    assert NESTED_PARENTS == PARENTS_PER_COLLECTION  # the sandbox spreads them over as many


def test_churn_leaves_parents_with_children_alone() -> None:
    data = ScopedOverlay(Dataset(GITHUB, seed=3, sizes={"repos": 5, "issues": 40, "comments": 40}))
    made = data.churn(60, seed=3)
    assert made and {c.collection for c in made} <= {"issues", "comments"}
    unplaced = ScopedOverlay(Dataset(GITHUB, seed=3, sizes={"repos": 0, "issues": 40}))
    assert "repos" in {c.collection for c in unplaced.churn(60, seed=3)}  # no children placed: churned


def test_seed_records_are_spread_over_distinct_parents() -> None:
    placement = Placement(Dataset(GITHUB, seed=3, sizes={"repos": 5, "issues": 40}))
    paths = [("o", "x"), ("o", "x"), ("o", "y"), ("o", "z"), ("o", "w")]
    placement._path_of = lambda parent, index: paths[index]  # type: ignore[method-assign]
    assert placement.slots("issues") == [("o", "x"), ("o", "y"), ("o", "z")]


def test_a_full_sync_under_one_parent_is_told_it_declared_every_parent() -> None:
    diffs = [stream_diff("issues", truth=30, lost=list(range(20)))]
    finding = judge_full_sync(
        diffs, {"issues": Counter({1: 1})}, log(), sizes={"issues": 30}, parents={"issues": "repos"}
    )
    assert finding is not None
    assert "issues: lost 20 of 30 records (e.g. 0) (the records under every repos record" in finding.message


def test_one_list_under_two_parents_is_two_requests_not_a_repeat() -> None:
    pages = [request(n, path=f"/repos/o/r{n}/issues", operation="listIssues") for n in range(1, 6)]
    assert judge_request_count(log(*pages)) is None
    again = [request(n, path="/repos/o/r1/issues", operation="listIssues") for n in range(1, 6)]
    finding = judge_request_count(log(*again))
    assert finding is not None and "it repeats requests (e.g. listIssues 5 times)" in finding.message
