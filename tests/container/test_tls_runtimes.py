"""TLS on every runtime: with the run's CA a client connects; without it, it is refused.

The embedded sandbox with `tls=True`, `harness sandbox serve --tls` through the url runtime, and
the container with `tls=True` serve their tenants over HTTPS with a certificate from a CA made
for the run, registered for the connector (and the harness's own clients) to trust.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import httpx
import pytest

from harness.runtime import tls
from tests.unit.test_tls import served_over_tls


@pytest.fixture(
    scope="module", params=["embedded", "url", pytest.param("container", marks=pytest.mark.container)]
)
def tls_sandbox(request, platform_contract):
    import harness.runtime

    if request.param == "embedded":
        with harness.runtime.embedded(platform_contract, tls=True) as handle:
            yield handle
    elif request.param == "url":
        with served_over_tls() as (url, token, ca_file):
            runtime = harness.runtime.UrlSandbox(
                url, platform_contract, admin_token=token, ca_file=Path(ca_file)
            )
            yield runtime.start()
            runtime.stop()
    else:
        request.getfixturevalue("container_runtime")
        with harness.runtime.container(platform_contract, tls=True) as handle:
            yield handle


def form(tenant) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
    }


def test_a_client_trusting_the_run_ca_connects_and_others_are_refused(tls_sandbox):
    tenant = tls_sandbox.new_tenant(seed=2, sizes={"contacts": 2})
    assert tenant.base_url.startswith("https://")
    ca_file = tls.ca_for(tenant.base_url)
    assert ca_file is not None
    trusting = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(verify=trusting, timeout=10) as http:
        response = http.post(tenant.token_url, data=form(tenant))
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        assert len(http.get(tenant.base_url + "/v1/contacts", headers=headers).json()["data"]) == 2
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.Client(timeout=10).post(tenant.token_url, data=form(tenant))
    assert os.environ.get("SSL_CERT_FILE") != str(ca_file)  # the harness process itself is untouched


def test_the_untrusted_front_works_on_every_runtime(tls_sandbox):
    """SEC-03's hook: the same certificate-nobody-trusts listener in front of any runtime."""
    tenant = tls_sandbox.new_tenant(seed=3, sizes={"contacts": 1})
    before = len(tenant.requests())
    with tls.untrusted_front(tls_sandbox.base_url) as front:
        url = front.url + tenant.token_url.removeprefix(tls_sandbox.base_url)
        trusting = ssl.create_default_context(cafile=str(tls.ca_for(tenant.base_url)))
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.Client(verify=trusting, timeout=10).post(url, data=form(tenant))
        assert httpx.Client(verify=False, timeout=10).post(url, data=form(tenant)).status_code == 200
        assert front.handshakes == 1
    assert len(tenant.requests()) == before + 1
