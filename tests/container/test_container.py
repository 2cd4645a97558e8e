"""What only the container runtime has: an image, a container to clean up, a start that can fail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.runtime import ContainerError, ContainerSandbox, container, embedded
from harness.runtime.container import ID_LABEL, build_hint, reap_orphans
from tests.conftest import CONTRACTS, ROOT

pytestmark = [pytest.mark.container, pytest.mark.usefixtures("container_runtime")]


@pytest.fixture
def docker_client():
    import docker

    client = docker.from_env()
    yield client
    client.close()


def labelled(client, runtime_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"{ID_LABEL}={runtime_id}"})


def test_a_missing_image_says_which_command_builds_it():
    with pytest.raises(ContainerError) as info, container(image="connector-harness:no-such-tag"):
        pass
    assert "connector-harness:no-such-tag does not exist" in str(info.value)
    assert "`harness image build --tag connector-harness:no-such-tag`" in str(info.value)
    assert build_hint(ContainerSandbox().image) == "harness image build"


def test_a_container_that_exits_early_is_reported_with_its_log_and_removed(docker_client):
    runtime = ContainerSandbox(CONTRACTS / "broken" / "invalid_syntax.yaml", start_timeout=20)
    started = time.monotonic()
    with pytest.raises(ContainerError) as info:
        runtime.start()
    assert time.monotonic() - started < 15, "an exited container is noticed at once, not at the time limit"
    message = str(info.value)
    assert "exited with status 1 before it was ready" in message
    assert "Its log" in message and "harness: " in message and "invalid_syntax.yaml" in message
    assert labelled(docker_client, runtime.id) == []


def test_a_container_not_ready_in_time_is_reported_and_removed(docker_client):
    runtime = ContainerSandbox(start_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ContainerError, match=r"was not ready within 0.2 s"):
        runtime.start()
    assert time.monotonic() - started < 15
    assert labelled(docker_client, runtime.id) == []


def test_leaving_the_context_removes_the_container(docker_client):
    runtime = ContainerSandbox()
    with runtime as handle:
        assert handle.health()["status"] == "ok"
        assert [c.status for c in labelled(docker_client, runtime.id)] == ["running"]
    assert labelled(docker_client, runtime.id) == []


def test_a_contract_of_ones_own_is_mounted_and_served():
    contract = CONTRACTS / "inventory.openapi.yaml"
    runtime = ContainerSandbox(contract)
    assert runtime.environment()["HARNESS_CONTRACT"] == "/contract/inventory.openapi.yaml"
    with runtime as handle:
        from harness.contract import load

        assert handle.health()["contract"] == load(contract).title
    assert "HARNESS_CONTRACT" not in ContainerSandbox().environment(), "the bundled contract needs no mount"


def test_the_same_seed_gives_the_same_data_in_both_runtimes(platform_contract):
    sizes = {"contacts": 40, "companies": 5}
    with embedded(platform_contract) as inside, container(platform_contract) as boxed:
        here = inside.new_tenant(seed=42, sizes=sizes)
        there = boxed.new_tenant(seed=42, sizes=sizes)
        for collection in sizes:
            assert here.records(collection) == there.records(collection)


SCRIPT = textwrap.dedent(
    """
    import time
    from harness.runtime import ContainerSandbox
    runtime = ContainerSandbox()
    try:
        runtime.start()
        print(runtime.id, flush=True)
        time.sleep(120)
    finally:
        runtime.stop()
    """
)


def start_session():
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A session started in the background inherits an ignored SIGINT, and Python then never
        # raises KeyboardInterrupt: give the child the SIGINT a terminal's Ctrl-C would meet.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    runtime_id = proc.stdout.readline().strip()
    assert runtime_id, proc.stderr.read() if proc.poll() is not None else "no id printed"
    return proc, runtime_id


def test_ctrl_c_leaves_no_container_running(docker_client):
    proc, runtime_id = start_session()
    assert len(labelled(docker_client, runtime_id)) == 1
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert labelled(docker_client, runtime_id) == []


def test_a_killed_sessions_container_is_reaped_by_the_next_one(docker_client):
    proc, runtime_id = start_session()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(labelled(docker_client, runtime_id)) == 1, "nothing could clean up after SIGKILL"
    reap_orphans(docker_client)  # what the next ContainerSandbox.start() does first
    assert labelled(docker_client, runtime_id) == []


def test_ryuk_is_off_unless_configured(monkeypatch):
    from testcontainers.core.config import testcontainers_config

    from harness.runtime.container import _ryuk_off_unless_configured

    monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED", raising=False)
    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", None)
    _ryuk_off_unless_configured()
    assert os.environ["TESTCONTAINERS_RYUK_DISABLED"] == "true"
    assert testcontainers_config.ryuk_disabled is True
