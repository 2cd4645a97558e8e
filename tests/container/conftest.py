"""Fixtures for the runtime suite: the same tests against every runtime that can run here.

Container tests need Docker and the sandbox image. Without them they skip, with a one-line
reason saying how to enable them; under CI (CI set) they fail instead, so a CI machine that
lost its engine cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

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


@pytest.fixture(
    scope="module", params=["embedded", "url", pytest.param("container", marks=pytest.mark.container)]
)
def sandbox(request, platform_contract):
    """A sandbox per runtime (one per module): the tests using it must pass on every one."""
    import harness.runtime

    if request.param == "embedded":
        with harness.runtime.embedded(platform_contract) as handle:
            yield handle
    elif request.param == "url":  # a sandbox another process serves, as a team's shared one
        with served_sandbox() as (url, token):
            runtime = harness.runtime.UrlSandbox(url, platform_contract, admin_token=token)
            yield runtime.start()
            runtime.stop()
    else:
        request.getfixturevalue("container_runtime")
        with harness.runtime.container(platform_contract) as handle:
            yield handle


@contextlib.contextmanager
def served_sandbox(*args: str):
    """`harness sandbox serve` in a subprocess on a free port: (its URL, its admin token)."""
    token = "url-runtime-token"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--admin-token",
            token,
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or lines[-1] != "ready":
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"harness sandbox serve did not start: {proc.stderr.read()}")
            lines.append(line.strip())
        yield next(line.split(": ", 1)[1] for line in lines if line.startswith("url: ")), token
    finally:
        proc.terminate()
        proc.wait(timeout=20)
