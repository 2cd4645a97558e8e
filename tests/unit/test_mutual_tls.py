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


# -- a certification's connectors, each through its tenant's front (harness/checks/fronts.py) ----

MTLS = load_contract(CONTRACT)
REFERENCE = ROOT / "examples" / "inventory_mtls_sync" / "connector.toml"


def manifest_for(contract):
    from harness.connectors.manifest import load_manifest

    return load_manifest(REFERENCE, contract)


def with_security(security: list[dict], tmp_path) -> object:
    """inventory_mtls with another top-level `security` (an API key declared beside the certificate)."""
    import yaml

    doc = yaml.safe_load(CONTRACT.read_text())
    doc["components"]["securitySchemes"]["key"] = {"type": "apiKey", "in": "header", "name": "X-Key"}
    doc["security"] = security
    path = tmp_path / "inventory.openapi.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_contract(path)


def test_the_connector_needs_a_client_certificate_where_its_operations_declare_one(tmp_path):
    from harness.checks.fronts import client_certificates

    found = client_certificates(MTLS, manifest_for(MTLS))
    assert found is not None and found.schemes == ("clientCertificate",) and found.required
    either = with_security([{"clientCertificate": []}, {"key": []}], tmp_path)
    offered = client_certificates(either, manifest_for(either))
    assert offered is not None and not offered.required  # one alternative: the front asks, not requires
    keyed = with_security([{"key": []}], tmp_path)
    assert client_certificates(keyed, manifest_for(keyed)) is None


def test_only_the_embedded_runtime_serves_a_mutual_tls_contract():
    from harness.checks.fronts import unserved_reason

    manifest = manifest_for(MTLS)
    assert unserved_reason(MTLS, manifest, "embedded") is None
    for runtime in ("container", "url:http://127.0.0.1:8000"):
        reason = unserved_reason(MTLS, manifest, runtime)
        assert reason is not None and runtime in reason and "--sandbox=embedded" in reason


@pytest.fixture(scope="module")
def plain_sandbox():
    """The sandbox as a certification runs it: embedded, plain HTTP (the front serves the TLS)."""
    with harness.runtime.embedded(MTLS) as handle:
        yield handle


def test_every_config_a_check_builds_reaches_the_platform_through_the_tenants_front(plain_sandbox):
    from harness.checks.context import CheckContext

    ctx = CheckContext("AUTH-01", plain_sandbox, MTLS, manifest_for(MTLS), seed=1)
    tenant = ctx.tenant({"products": 3})
    config = ctx.config(tenant)
    front = ctx.fronts.front(tenant)
    assert front is not None and tenant.base_url.startswith("http://")
    assert config["base_url"].startswith(front.url + "/") and config["base_url"] != tenant.base_url
    assert config["base_url"].endswith(tenant.base_url.split("://", 1)[1].split("/", 1)[1])  # path kept
    assert {"ca_bundle", "client_cert", "client_key"} <= set(config)
    assert ctx.config(tenant)["base_url"] == config["base_url"]  # one front per tenant
    assert ctx.fronts.front(ctx.tenant({"products": 3})) is None  # started by a config only
    context = ssl.create_default_context(cafile=config["ca_bundle"])
    context.load_cert_chain(config["client_cert"], config["client_key"])
    with httpx.Client(verify=context) as c:
        assert c.get(config["base_url"] + "/products").status_code == 200
    assert tenant.requests().api()[-1].auth.credential == "certificate"
    ctx.fronts.close()  # what the session does when the check ends
    with httpx.Client(verify=context) as c, pytest.raises(httpx.ConnectError):
        c.get(config["base_url"] + "/products")


def test_a_contract_without_mutual_tls_gives_the_sandbox_itself():
    from harness.checks.context import CheckContext
    from harness.connectors.manifest import load_manifest
    from harness.contract import default_contract_path

    contract = load_contract(default_contract_path())
    with harness.runtime.embedded(contract) as handle:
        ctx = CheckContext(
            "AUTH-01",
            handle,
            contract,
            load_manifest(ROOT / "examples/acme_sync/connector.toml", contract),
            1,
        )
        tenant = ctx.tenant({"contacts": 1})
        assert ctx.config(tenant)["base_url"] == tenant.base_url and ctx.fronts.front(tenant) is None


def test_where_the_certificate_is_one_alternative_a_client_may_connect_without_one(plain_sandbox):
    tenant = plain_sandbox.new_tenant(seed=4, sizes={"products": 2})
    with mutual_tls_front(tenant.base_url, tenant.client_id, required=False) as front:
        given = front.connector_config()
        with httpx.Client(verify=ssl.create_default_context(cafile=given["ca_bundle"])) as c:
            response = c.get(given["base_url"] + "/products")
        assert front.handshakes == 1 and front.refused == 0
    assert response.status_code == 401  # forwarded, but not vouched for
    assert tenant.requests().api()[-1].auth.error == "missing_client_certificate"
