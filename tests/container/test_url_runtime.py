"""The url runtime refuses a sandbox it cannot trust to be the one this run certifies against."""

from __future__ import annotations

import pytest

from harness.contract import load
from harness.runtime import SandboxError, UrlSandbox
from tests.conftest import CONTRACTS
from tests.container.conftest import served_sandbox


def test_the_admin_token_is_required_and_checked(platform_contract, monkeypatch):
    monkeypatch.delenv("HARNESS_ADMIN_TOKEN", raising=False)
    with served_sandbox() as (url, token):
        with pytest.raises(SandboxError, match="needs the sandbox's admin token in HARNESS_ADMIN_TOKEN"):
            UrlSandbox(url, platform_contract).start()
        with pytest.raises(SandboxError, match="does not open the control API"):
            UrlSandbox(url, platform_contract, admin_token="wrong").start()
        monkeypatch.setenv("HARNESS_ADMIN_TOKEN", token)
        runtime = UrlSandbox(url, platform_contract)
        assert runtime.start().kind == "url"
        runtime.stop()


def test_a_sandbox_serving_another_contract_is_refused(platform_contract):
    ticketing = CONTRACTS / "ticketing.openapi.json"
    with served_sandbox("--contract", str(ticketing)) as (url, token):
        with pytest.raises(SandboxError, match="serves 'Helpdesk"):
            UrlSandbox(url, platform_contract, admin_token=token).start()
        assert UrlSandbox(url, load(ticketing), admin_token=token).start().kind == "url"


def test_nothing_answering_is_a_clear_error(platform_contract):
    with pytest.raises(SandboxError, match=r"no sandbox answers at http://127\.0\.0\.1:9"):
        UrlSandbox("http://127.0.0.1:9", platform_contract, admin_token="t").start()
