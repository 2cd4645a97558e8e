"""Fixtures for the runtime suite: the same tests against every runtime that can run here.

Container tests need Docker and the sandbox image. Without them they skip, with a one-line
reason saying how to enable them; under CI (CI set) they fail instead, so a CI machine that
lost its engine cannot pass by skipping.
"""

from __future__ import annotations

import os

import pytest

ENABLE = "start Docker and run `harness image build` to enable container tests"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def container_runtime() -> None:
    """Skip (or, under CI, fail) unless a container sandbox can start on this machine."""
    from harness.runtime.container import unavailable

    reason = unavailable()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI is set, so the container runtime must work: {reason}", pytrace=False)
    pytest.skip(f"{reason}: {ENABLE}")


@pytest.fixture(scope="module", params=["embedded", pytest.param("container", marks=pytest.mark.container)])
def sandbox(request, platform_contract):
    """A sandbox per runtime (one per module): the tests using it must pass on every one."""
    import harness.runtime

    if request.param == "embedded":
        with harness.runtime.embedded(platform_contract) as handle:
            yield handle
    else:
        request.getfixturevalue("container_runtime")
        with harness.runtime.container(platform_contract) as handle:
            yield handle
