"""Egress recording by the embedded runtime (SEC-02's evidence): httpx traffic only."""

from __future__ import annotations

import httpx
import pytest

from harness.runtime import embedded
from harness.runtime.handle import SandboxHandle


def test_other_hosts_are_recorded_and_blocked_while_the_sandbox_passes(platform_contract):
    with embedded(platform_contract) as handle:
        assert handle.egress() == []
        with handle.recording_egress() as observed:
            assert observed is True
            assert handle.health()  # the sandbox itself passes through
            with pytest.raises(httpx.ConnectError, match="blocked"):
                httpx.post("https://u:pw@telemetry.example.com/ping?key=s3cret#x", json={"a": 1})
        host = "telemetry.example.com"
        assert handle.egress() == [{"method": "POST", "url": f"https://{host}/ping?key=****", "host": host}]
        with handle.recording_egress():  # each recording starts empty
            pass
        assert handle.egress() == []


def test_a_runtime_without_a_recorder_says_it_cannot_observe_egress():
    handle = SandboxHandle("http://127.0.0.1:9", "admin", "url")
    try:
        assert handle.egress() is None
        with handle.recording_egress() as observed:
            assert observed is False
    finally:
        handle.close()
