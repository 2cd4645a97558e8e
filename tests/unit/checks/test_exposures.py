"""SEC-01 across the run: every check's connectors recorded, URLs judged as sent, never shown."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.checks.exposures import Exposures, Leak, RecordedDriver, credentials, driver_places, request_urls
from harness.checks.secrets import judge_no_leaks, token_shape
from harness.connectors import ConnectorFailed, Replica
from tests.unit.checks.evidence import log, request

SECRET = "Q3vB8kLm2ZpX7rTy9WnF4hJd"
TOKEN = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f"
SHAPE = token_shape("Zz9" * 14 + "Q")


class Failing:
    timeout = 60.0

    def __init__(self) -> None:
        self.closed = False

    def sync(self, state: Any = None) -> None:
        raise ConnectorFailed("sync(None)", RuntimeError(f"503 with Bearer {TOKEN}"), "Traceback ...")

    def check(self) -> None:
        pass

    def diagnostics(self) -> Any:
        return SimpleNamespace(stderr=("starting",))


def test_a_recorded_driver_keeps_the_errors_it_raised_and_delegates_the_rest():
    inner = Failing()
    driver = RecordedDriver(inner, {"client_secret": SECRET}, Replica())
    driver.check()
    with pytest.raises(ConnectorFailed):
        driver.sync(None)
    driver.timeout = 5.0  # checks shorten a connector's calls: the setting reaches the real driver
    assert inner.timeout == 5.0 and driver.timeout == 5.0
    assert [call for call, _ in driver.errors] == ["sync()"]
    places = driver_places(driver.sink, driver.diagnostics(), driver.errors, str)
    assert ("stderr line 1", "starting") in places
    finding = judge_no_leaks(places, {}, SHAPE)
    assert finding is not None and "e.g. the error of sync()" in finding.message


def test_credentials_are_every_secret_value_handed_to_a_connector_once():
    configs = [
        {"client_secret": SECRET, "client_id": "c1", "webhook_secret": "whsec_" + "k" * 32},
        {"client_secret": SECRET, "api_key": "short"},  # the same secret twice, a key too short to look for
    ]
    assert credentials(configs) == {
        "the client secret": SECRET,
        "the webhook secret": "whsec_" + "k" * 32,
        "the webhook signing key": "k" * 32,
    }


def test_urls_are_judged_as_sent_not_as_the_sandbox_masked_them():
    sent = request(
        3, query={"access_token": [TOKEN[:4] + "****"]}, raw_query=f"limit=10&access_token={TOKEN}"
    )
    assert sent.raw_query not in repr(sent) and TOKEN not in sent.line() and TOKEN not in str(sent.summary())
    urls = request_urls(log(sent))
    assert urls == [("the URL of request #3 (GET /contacts)", f"/contacts?limit=10&access_token={TOKEN}")]
    assert judge_no_leaks(urls, {}, SHAPE) is not None
    masked = [(where, f"/contacts?{sent.query_string}") for where, _ in urls]
    assert judge_no_leaks(masked, {}, SHAPE) is None  # what the old judgement read: the leak was hidden


def test_a_percent_encoded_secret_in_a_query_is_found_decoded():
    secret = "a+b/c=d" + SECRET
    urls = request_urls(log(request(1, raw_query="key=a%2Bb%2Fc%3Dd" + SECRET)))
    finding = judge_no_leaks(urls, {"the API key": secret}, None)
    assert finding is not None and "leaked the API key (a+b/****)" in finding.message


def test_leaks_of_other_checks_fail_sec01_naming_the_check_and_never_the_value():
    exposures = Exposures()
    exposures.add("RES-02", {"an access token": ["log #3 (warning 'retrying request')"]})
    exposures.add("DATA-01", {})
    assert exposures.scanned == ["RES-02", "DATA-01"]
    finding = judge_no_leaks(
        [("log #1", "synced")], {"the client secret": SECRET}, SHAPE, (), exposures.elsewhere("SEC-01")
    )
    assert finding is not None
    assert (
        "leaked an access token (recognized by the shape of the platform's tokens) in 1 place(s), "
        "e.g. log #3 " in (finding.message)
    )
    assert "during RES-02" in finding.message and TOKEN not in finding.message
    assert exposures.elsewhere("RES-02") == []
    clean = judge_no_leaks([("log #1", "synced")], {"the client secret": SECRET}, SHAPE, (), [])
    assert clean is None
    assert (
        judge_no_leaks([], {}, None, (), [Leak("AUTH-04", "the client secret", ["stderr line 2"])])
        is not None
    )


def test_a_log_label_never_quotes_a_credential_even_cut_short():
    replica = Replica()
    replica.logs.append({"level": "warning", "message": f"retry: Bearer {TOKEN} refused"})
    places = driver_places(replica, None, [], str)
    ((where, _),) = places
    assert TOKEN[:10] not in where and "****" in where


def test_an_api_key_where_the_contract_puts_it_in_the_query_is_no_leak():
    from harness.contract import load

    contract = load("tests/contracts/ticketing_like.openapi.yaml")
    op = next(op for op in contract.operations if contract.query_credentials(op))
    (name,) = contract.query_credentials(op)
    sent = request(1, operation=op.operation_id, raw_query=f"{name}={SECRET}&page=2&token={SECRET}")
    ((_, url),) = request_urls(log(sent), contract)
    assert url == f"/contacts?page=2&token={SECRET}"  # the declared parameter left out, not the other
    assert request_urls(log(sent))[0][1].count(SECRET) == 2  # without the contract: both


def test_a_mutual_tls_client_key_is_a_credential_by_its_contents_not_its_path(tmp_path):
    import trustme

    key = tmp_path / "client-key.pem"
    trustme.CA().issue_cert("c.invalid").private_key_pem.write_to_path(str(key))
    body = key.read_text().splitlines()[1]
    found = credentials([{"client_key": str(key), "client_cert": str(tmp_path / "client-cert.pem")}])
    assert found == {"the TLS client key": body}
    logged = [("log #1 (debug 'TLS identity loaded')", key.read_text())]
    finding = judge_no_leaks(logged, found, None)
    assert finding is not None and "leaked the TLS client key" in finding.message
    assert body not in finding.message
    assert credentials([{"client_key": str(tmp_path / "gone.pem")}]) == {}  # a front already stopped


def test_a_secret_is_found_however_it_was_encoded() -> None:
    import base64

    from harness.checks.leaks import find_leaks

    secret = "cs_live_4f9a8b7c6d5e4f3a2b1c"
    basic = base64.b64encode(f"client-1:{secret}".encode()).decode()
    outputs = [
        ("log #1", f"headers={{'Authorization': 'Basic {basic}'}}"),
        ("log #2", "client_secret=" + secret.replace("_", "%5F")),
        ("log #3", "key=" + secret.encode().hex()),
        ("log #4", "nothing to see, " + base64.b64encode(b"client-1:other").decode()),
        ("log #5", f"client_secret={secret}&note=a%20b"),  # plain and percent-decoded: one place
    ]
    found = find_leaks(outputs, {"the client secret": secret}, None)["the client secret"]
    assert found == ["log #1 (base64-encoded)", "log #2 (percent-encoded)", "log #3 (hex-encoded)", "log #5"]
