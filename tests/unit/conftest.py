"""Fixtures shared by the sandbox tests: an embedded sandbox and an HTTP client per module."""

from __future__ import annotations

import httpx
import pytest

import harness.runtime


@pytest.fixture(scope="module")
def sandbox(platform_contract):
    with harness.runtime.embedded(platform_contract) as handle:
        yield handle


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=10) as client:
        yield client
