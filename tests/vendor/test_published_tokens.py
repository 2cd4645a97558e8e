"""OAuth2 specs whose token endpoint is not one of their own paths (often on another host): the
control API reports where the sandbox serves it, and a client-credentials token from there is
accepted by the API. Checked on the vendors' published specs."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest

import harness.runtime
from harness.contract import load
from tests.published import published

# (corpus name, the token URL's path from the server's root, an OAuth2-secured GET under the base)
CASES = [
    ("zoom", "/oauth/token", "/users"),  # api.zoom.us/oauth/token, outside the /v2 base
    ("spotify", "/api/token", "/me"),  # accounts.spotify.com/api/token, authorization code only
    ("asana", "/-/oauth_token", "/users"),  # app.asana.com/-/oauth_token, outside /api/1.0
    ("box", "/oauth2/token", "/users/me"),  # authorization code only, under the API's host
]


@pytest.mark.parametrize("name, token_path, probe", CASES, ids=[c[0] for c in CASES])
def test_a_token_from_the_reported_token_url_is_accepted(name, token_path, probe):
    contract = load(published(name))
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=3, rate_limit=(10_000.0, 10_000))
        assert tenant.token_url is not None, "the control API reports no token_url"
        root = tenant.base_url[: len(tenant.base_url) - len(contract.base_path)]
        assert tenant.token_url == root + token_path
        with httpx.Client(timeout=30) as http:
            form = {
                "grant_type": "client_credentials",
                "client_id": tenant.client_id,
                "client_secret": tenant.client_secret,
            }
            token = http.post(tenant.token_url, data=form)
            assert token.status_code == 200, token.text
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            answer = http.get(tenant.base_url + probe, headers=bearer)
            assert answer.status_code not in (401, 403), answer.text
            refused = http.get(tenant.base_url + probe, headers={"Authorization": "Bearer wrong"})
            assert refused.status_code == 401
            assert urlparse(tenant.token_url).path.endswith(token_path)
