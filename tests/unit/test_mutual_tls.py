"""mutualTLS: the front requires a client certificate from the tenant's client CA, and the
sandbox authenticates the mutualTLS scheme only for connections the front vouched for."""

from __future__ import annotations

import ssl

import httpx
import pytest

import harness.runtime
from harness.contract.loader import load as load_contract
from harness.runtime import mutual_tls_front
from harness.sandbox.auth import CLIENT_CERT_HEADER
from tests.conftest import ROOT

CONTRACT = ROOT / "tests/contracts/inventory_mtls.openapi.yaml"


@pytest.fixture(scope="module")
def tenant():
    with harness.runtime.embedded(load_contract(CONTRACT), tls=True) as handle:
        yield handle.new_tenant(seed=3, sizes={"products": 3})


def products_url(url: str, tenant) -> str:
    return url + tenant.base_url.split(tenant.base_url.split("/t/")[0], 1)[1] + "/products"


def test_a_client_with_the_tenant_certificate_is_authenticated(tenant):
    with mutual_tls_front(tenant.base_url, tenant.client_id) as front:
        given = front.connector_config()
        context = ssl.create_default_context(cafile=given["ca_bundle"])
        context.load_cert_chain(given["client_cert"], given["client_key"])
        with httpx.Client(verify=context) as c:
            response = c.get(products_url(front.url, tenant))
        assert response.status_code == 200, response.text
        assert front.handshakes == 1 and front.refused == 0
    entry = tenant.requests().api()[-1]
    assert entry.auth.scheme == "clientCertificate" and entry.auth.credential == "certificate"


def test_a_client_without_a_certificate_never_reaches_the_api(tenant):
    before = len(tenant.requests())
    with mutual_tls_front(tenant.base_url, tenant.client_id) as front:
        with (
            httpx.Client(verify=ssl.create_default_context(cafile=front.ca_file)) as c,
            pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)),
        ):
            c.get(products_url(front.url, tenant))
        assert front.handshakes == 0 and front.refused >= 1
    assert len(tenant.requests()) == before


def test_a_forged_certificate_header_sent_directly_is_refused(tenant):
    ca = harness.runtime.tls.ca_for(tenant.base_url)
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca))) as c:
        response = c.get(tenant.base_url + "/products", headers={CLIENT_CERT_HEADER: tenant.client_id})
    assert response.status_code == 401
    assert tenant.requests().api()[-1].auth.error == "missing_client_certificate"
