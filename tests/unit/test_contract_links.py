"""A record's links to itself are left out when replicas are compared with ground truth."""

from __future__ import annotations

from harness.contract import load
from harness.contract.links import without_self_links


def test_self_links_are_left_out_and_everything_else_kept() -> None:
    contract = load("tests/contracts/github_like.openapi.yaml")
    col = contract.collections["issues"]
    record = {
        "id": 1,
        "url": "http://127.0.0.1:1/t/x/repos/o/r/issues/1",
        "title": "t",
        "links": {"self": "a", "x": 1},
    }
    assert without_self_links(contract, col, record) == {"id": 1, "title": "t", "links": {"x": 1}}
    assert without_self_links(contract, col, {"id": 2, "url": None}) == {"id": 2, "url": None}
