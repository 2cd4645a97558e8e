"""Paging fields several levels down (HubSpot's `paging.next.after`), and ids from patterns that
accept plain numbers: what a HubSpot-shaped contract needs of the sandbox."""

from __future__ import annotations

import httpx
import pytest

from harness.contract import load
from harness.runtime import embedded
from harness.synth.ids import DigitsCodec, codec_for_schema

CONTRACT = "tests/contracts/hubspot_like.openapi.yaml"


def test_numeric_string_patterns_get_ids_that_match_them() -> None:
    codec = codec_for_schema({"type": "string", "pattern": "^[1-9][0-9]{0,11}$"}, 1, "contacts")
    assert isinstance(codec, DigitsCodec) and codec.capacity == 10**12 - 1
    assert codec.encode(0) == "1" and codec.decode("42") == 41 and codec.decode("042") is None
    assert codec_for_schema({"type": "string", "pattern": "^[A-Z]{3}-x$"}, 1, "c") is None


@pytest.fixture(scope="module")
def hubspot():
    with embedded(load(CONTRACT)) as sandbox:
        yield sandbox


def test_a_next_cursor_three_levels_down_pages_to_the_end_and_then_leaves_its_holder_out(hubspot) -> None:
    tenant = hubspot.new_tenant(seed=3, sizes={"contacts": 250})
    token = httpx.post(
        tenant.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tenant.info["refresh_token"],
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
        },
    ).json()["access_token"]
    seen, after, pages = [], None, []
    for _ in range(5):
        params = {"limit": 100, **({"after": after} if after else {})}
        body = httpx.get(
            tenant.base_url + "/crm/v3/objects/contacts",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        seen += [r["id"] for r in body["results"]]
        pages.append(body.get("paging"))
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
    truth = [r["id"] for r in tenant.records("contacts")]
    assert sorted(seen) == sorted(truth) and len(seen) == 250
    assert all(p and isinstance(p["next"]["after"], str) for p in pages[:-1])
    assert not (pages[-1] or {}).get("next")  # the last page: no `next`, not a made-up cursor
