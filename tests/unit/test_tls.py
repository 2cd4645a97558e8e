"""TLS with a per-run CA: clients told to trust the run's CA connect, every other client is refused.

Covers the embedded runtime, `harness sandbox serve --tls` through the url runtime, what a
connector's clean room is given (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, config
`ca_bundle`), and SEC-03's hook: a listener whose certificate no client trusts.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess
import sys

import httpx
import pytest
import trustme

import harness.runtime
from harness.connectors.cleanroom import environment
from harness.connectors.manifest import resolve_connector
from harness.runtime import tls
from tests.conftest import ROOT
from tests.container.conftest import in_ci


@pytest.fixture(scope="module")
def tls_sandbox(platform_contract):
    with harness.runtime.embedded(platform_contract, tls=True) as handle:
        yield handle


@pytest.fixture(scope="module")
def tenant(tls_sandbox):
    return tls_sandbox.new_tenant(seed=5, sizes={"contacts": 3})


def token_form(tenant) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
    }


def trusting(ca_file) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def test_the_sandbox_and_its_tenants_are_served_over_https(tls_sandbox, tenant):
    assert tls_sandbox.base_url.startswith("https://127.0.0.1:")
    assert tenant.base_url.startswith(tls_sandbox.base_url + "/t/")
    assert tenant.token_url.startswith("https://")
    assert tls_sandbox.health()["status"] == "ok"  # the control client trusts the run's CA


def test_a_client_trusting_the_run_ca_connects(tenant):
    ca_file = tls.ca_for(tenant.base_url)
    assert ca_file is not None and ca_file.is_file()
    with httpx.Client(verify=trusting(ca_file), timeout=10) as http:
        response = http.post(tenant.token_url, data=token_form(tenant))
        assert response.status_code == 200
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        assert len(http.get(tenant.base_url + "/v1/contacts", headers=headers).json()["data"]) == 3


def test_a_client_trusting_only_the_public_cas_is_refused(tenant):
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.Client(timeout=10).post(tenant.token_url, data=token_form(tenant))


def test_a_client_trusting_another_ca_is_refused(tenant, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.Client(verify=trusting(other), timeout=10).post(tenant.token_url, data=token_form(tenant))


def test_plain_http_stays_the_default_of_embedded(sandbox):
    assert sandbox.base_url.startswith("http://")
    assert tls.ca_for(sandbox.base_url) is None


def test_the_ca_is_forgotten_when_the_sandbox_stops(platform_contract):
    with harness.runtime.embedded(platform_contract, tls=True) as handle:
        ca_file = tls.ca_for(handle.base_url)
        assert ca_file is not None and tls.trusted_bundle() is not None
    assert tls.ca_for(handle.base_url) is None
    assert not ca_file.exists()


def test_the_connector_is_told_to_trust_the_run_ca(tenant, platform_contract, tmp_path):
    """The clean room points every common client at the run's CA, and config carries it."""
    env = environment(str(tmp_path))
    bundle = str(tls.trusted_bundle())
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == env["NODE_EXTRA_CA_CERTS"] == bundle
    manifest = resolve_connector(str(ROOT / "examples" / "acme_sync"), ROOT, platform_contract)
    assert manifest.connector_config(tenant)["ca_bundle"] == str(tls.ca_for(tenant.base_url))


def test_a_stdlib_client_in_the_clean_room_environment_connects(tenant, tmp_path):
    """urllib's default context reads SSL_CERT_FILE: the way a real client is told what to trust."""
    probe = (
        "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], data=b'', timeout=10).status)"
    )
    url = tenant.token_url
    told = subprocess.run(
        [sys.executable, "-c", probe, url], env=environment(str(tmp_path)), capture_output=True, text=True
    )
    # urlopen raises on 4xx: reaching the token endpoint (400 for an empty form) proves the handshake
    assert "HTTP Error 400" in told.stderr or told.stdout.strip() == "200", told.stderr[-500:]
    bare = {
        k: v
        for k, v in environment(str(tmp_path)).items()
        if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    untold = subprocess.run([sys.executable, "-c", probe, url], env=bare, capture_output=True, text=True)
    assert "CERTIFICATE_VERIFY_FAILED" in untold.stderr


def test_node_fetch_in_the_clean_room_environment_connects(tenant, tmp_path):
    if shutil.which("node") is None:
        if in_ci():
            pytest.fail("CI is set, so node must be installed")
        pytest.skip("node is not installed")
    probe = "fetch(process.argv[1]).then(r => console.log(r.status), e => { console.log(e.cause?.code); })"
    env = environment(str(tmp_path))
    told = subprocess.run(
        ["node", "-e", probe, tenant.base_url + "/v1/contacts"], env=env, capture_output=True, text=True
    )
    assert told.stdout.strip() == "401"  # reached the API (no token): the certificate was trusted
    env.pop("NODE_EXTRA_CA_CERTS")
    untold = subprocess.run(
        ["node", "-e", probe, tenant.base_url + "/v1/contacts"], env=env, capture_output=True, text=True
    )
    assert untold.stdout.strip() in ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY")


def test_an_untrusted_front_is_refused_by_a_verifying_client(tls_sandbox, tenant):
    """SEC-03's hook: a certificate from a CA nobody trusts; verifying clients never get through."""
    with tls.untrusted_front(tls_sandbox.base_url) as front:
        url = front.url + tenant.token_url.removeprefix(tls_sandbox.base_url)
        for verify in (trusting(tls.ca_for(tenant.base_url)), True):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                httpx.Client(verify=verify, timeout=10).post(url, data=token_form(tenant))
        assert front.handshakes == 0
        assert front.refused == 2  # each connection seen, so SEC-03 knows the connector tried


def test_an_untrusted_front_lets_a_non_verifying_client_reach_the_sandbox(tls_sandbox, tenant):
    """What SEC-03 must catch: with verification off, requests arrive in the tenant's log."""
    before = len(tenant.requests())
    with tls.untrusted_front(tls_sandbox.base_url) as front:
        url = front.url + tenant.token_url.removeprefix(tls_sandbox.base_url)
        response = httpx.Client(verify=False, timeout=10).post(url, data=token_form(tenant))
        assert response.status_code == 200
        assert front.handshakes == 1
    assert len(tenant.requests()) == before + 1


@contextlib.contextmanager
def served_over_tls():
    """`harness sandbox serve --tls --port 0` in a subprocess: (its URL, admin token, CA file)."""
    token = "tls-serve-token"
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "sandbox",
        "serve",
        "--port",
        "0",
        "--admin-token",
        token,
        "--tls",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        while not lines or lines[-1] != "ready":
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"harness sandbox serve --tls did not start: {proc.stderr.read()}")
            lines.append(line.strip())
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        yield fields["url"], token, fields["ca"].split(" (")[0]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_sandbox_serve_tls_through_the_url_runtime(platform_contract, monkeypatch):
    """`harness sandbox serve --tls` prints its CA; the url runtime trusts exactly that CA."""
    with served_over_tls() as (url, admin_token, ca_file):
        assert url.startswith("https://")
        refused = harness.runtime.UrlSandbox(url, platform_contract, admin_token=admin_token)
        with pytest.raises(harness.runtime.SandboxError, match="CERTIFICATE_VERIFY_FAILED"):
            refused.start()
        monkeypatch.setenv("HARNESS_SANDBOX_CA", ca_file)
        runtime = harness.runtime.UrlSandbox(url, platform_contract, admin_token=admin_token)
        handle = runtime.start()
        try:
            tenant = handle.new_tenant(seed=1, sizes={"contacts": 1})
            assert tenant.base_url.startswith(url)
            assert str(tls.ca_for(tenant.base_url)) == ca_file
            with httpx.Client(verify=trusting(ca_file), timeout=10) as http:
                assert http.post(tenant.token_url, data=token_form(tenant)).status_code == 200
        finally:
            runtime.stop()
        assert tls.ca_for(url) is None
