"""stripe-python used the way its own test suite uses stripe-mock, against `harness sandbox serve
--root-tenant --root-secret sk_test_123 --lenient-ids --tidy` on Stripe's published spec: the SDK
is pointed at `http://localhost:<port>` (host and port only) with the suite's hard-coded key, and
reads, updates and deletes ids it never created. bench/stripe_suite.py runs the whole suite."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.published import published

stripe = pytest.importorskip("stripe")

VENDOR = "stripe"
KEY = "sk_test_123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mock_port():
    port = _free_port()
    command = [sys.executable, "-m", "harness.cli", "sandbox", "serve", "--contract", str(published(VENDOR))]
    command += ["--port", str(port), "--root-tenant", "--root-secret", KEY, "--lenient-ids", "--tidy"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                break
        else:
            pytest.fail(f"the sandbox did not start: {proc.stderr.read()}")  # type: ignore[union-attr]
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.fixture
def sdk(mock_port, monkeypatch):
    monkeypatch.setattr(stripe, "api_base", f"http://localhost:{mock_port}")
    monkeypatch.setattr(stripe, "api_key", KEY)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    return stripe


def test_an_id_never_created_is_retrieved_saved_and_deleted_twice(sdk):
    customer = sdk.Customer.retrieve("cus_123")
    assert isinstance(customer, sdk.Customer) and customer.id == "cus_123"
    assert "metadata" in customer  # tidy: every optional field is there, as in stripe-mock's fixtures
    sdk.Customer.modify("cus_123", metadata={"key": "value"})
    assert sdk.Customer.retrieve("cus_123").metadata["key"] == "value"
    assert sdk.Customer.delete("cus_123").deleted is True
    assert sdk.Customer.delete("cus_123").deleted is True  # every id exists, as on stripe-mock


def test_a_nested_record_of_an_unknown_parent_is_served(sdk):
    tax_id = sdk.Customer.retrieve_tax_id("cus_777", "txi_123")
    assert isinstance(tax_id, sdk.TaxId) and tax_id.id == "txi_123"


def test_lists_have_records_and_a_wrong_key_is_still_refused(sdk):
    listed = sdk.Customer.list()
    assert isinstance(listed.data[0], sdk.Customer)
    with pytest.raises(sdk.AuthenticationError):
        sdk.Customer.list(api_key="sk_test_999")
