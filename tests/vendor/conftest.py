"""Vendor SDK tests: an official SDK, with only its host changed, against the embedded sandbox
serving that vendor's published spec (fetched by bench/corpus.py into its cache with `npm pack`).

Each step (create, read back, update, delete, read after delete, paging, wrong credential) is
its own test, so the state per SDK step is visible; steps the sandbox cannot serve yet are
strict xfails naming the gap (issue 12).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import harness.runtime
from harness.contract import load
from tests.published import published


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.vendor)


@pytest.fixture(scope="module")
def vendor_sandbox(request) -> Any:
    """(tenant or the tenant-creation error, contract) for the module's VENDOR corpus name; over
    HTTPS (the run's CA, `harness.runtime.tls.ca_for(base_url)`) where the module sets TLS = True,
    for SDKs that refuse to send a bearer token over plain HTTP."""
    path = published(request.module.VENDOR)
    contract = load(path)
    with harness.runtime.embedded(contract, tls=getattr(request.module, "TLS", False)) as sandbox:
        try:
            tenant = sandbox.new_tenant(seed=7, rate_limit=(10_000.0, 10_000))
        except harness.runtime.SandboxError as exc:  # the control API's answer is the finding
            tenant = exc
        yield tenant, contract


@pytest.fixture
def tenant(vendor_sandbox):
    tenant, _ = vendor_sandbox
    if isinstance(tenant, Exception):
        raise AssertionError(f"no tenant for the vendor's spec: {tenant}")
    return tenant
