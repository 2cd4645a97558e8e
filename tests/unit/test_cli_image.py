"""`harness image build` refuses clearly without Docker; `harness sandbox serve` reads its env defaults."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import CONTRACTS, ROOT


def harness(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_image_build_without_docker_says_to_install_it(tmp_path):
    done = harness("image", "build", env={"PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "docker is not installed: install Docker and start it" in done.stderr


def test_image_build_with_the_engine_down_says_to_start_docker(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    done = harness("image", "build", env={"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 1
    assert "the Docker engine is not running (Cannot connect to the Docker daemon" in done.stderr
    assert "start Docker, then run this again" in done.stderr


def test_serve_takes_contract_token_and_seed_from_the_environment():
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "sandbox", "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "HARNESS_CONTRACT": str(CONTRACTS / "inventory.openapi.yaml"),
            "HARNESS_ADMIN_TOKEN": "from-env",
            "HARNESS_SEED": "9",
        },
    )
    try:
        lines = []
        while not lines or lines[-1] != "ready":
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line.strip())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "admin token: from-env" in lines
    assert any(line.startswith("sandbox: ") and "inventory.openapi.yaml" in line for line in lines)


def test_a_flag_wins_over_the_environment_and_a_bad_seed_is_named():
    done = harness("sandbox", "serve", "--contract", "nope.yaml", env={"HARNESS_CONTRACT": "other.yaml"})
    assert done.returncode == 1 and "nope.yaml" in done.stderr and "other.yaml" not in done.stderr
    done = harness("sandbox", "serve", env={"HARNESS_SEED": "seven"})
    assert done.returncode == 2
    assert "HARNESS_SEED must be an integer, not 'seven'" in done.stderr
