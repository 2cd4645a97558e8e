"""A credential in a request body is refused and recorded as `key_in_body`, JSON bodies as well as
form bodies, and so is a declared query key sent in a body instead (AUTH-01 reads the record)."""

from __future__ import annotations

import harness.runtime
from harness.contract import load
from tests.conftest import CONTRACTS


def test_an_api_key_in_a_json_or_form_body_is_refused_and_recorded(http, ticketing_contract):
    with harness.runtime.embedded(ticketing_contract) as handle:
        tenant = handle.new_tenant(seed=1, sizes={"tickets": 3})
        key, url = tenant.client_secret, tenant.base_url + "/tickets"
        assert http.get(url, headers={"X-API-Key": key}).status_code == 200
        assert http.request("GET", url, json={"auth": {"keys": [key]}}).status_code == 401
        assert http.request("GET", url, data={"api_key": key}).status_code == 401
        # a JSON body without a credential is judged as before (a GET takes no body: 400, not 401)
        assert http.request("GET", url, json={"note": "x"}, headers={"X-API-Key": key}).status_code == 400
        auth = [e.auth for e in tenant.requests()]
        assert [(a.credential, a.error) for a in auth[1:3]] == [("body", "key_in_body")] * 2
        assert auth[3].error is None


def test_a_declared_query_key_sent_in_a_body_is_misplaced(http):
    with harness.runtime.embedded(load(CONTRACTS / "ticketing_like.openapi.yaml")) as handle:
        tenant = handle.new_tenant(seed=2, sizes={"tickets": 3})
        key, url = tenant.client_secret, tenant.base_url + "/tickets"
        assert http.get(url, params={"api_key": key}).status_code == 200
        assert http.request("GET", url, json={"api_key": key}).status_code == 401
        last = tenant.requests()[-1]
        assert (last.auth.credential, last.auth.error) == ("body", "key_in_body")
