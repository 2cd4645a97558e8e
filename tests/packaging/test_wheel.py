"""The wheel alone is enough: built, installed into a fresh venv without extras, it certifies the
reference connector at the strict level (WH-04's schemathesis included), writing only its report.

Everything happens in a temp folder: the sources are copied there before the build, so the
checkout gets no build/ or egg-info of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SKIP = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests"
)


def run(*args: str | Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    # no PYTEST_* either (tests/conftest.py's CHILD_PYTEST_ENV): the wheel's entry point loads the plugin
    drop = ("HARNESS_", "PYTHON", "VIRTUAL_ENV", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # importing the example must not write its __pycache__
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, (
        f"{args[:4]} exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def test_the_wheel_in_a_fresh_venv_certifies_the_example_at_strict(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        tmp_path / "dist",
        source,
        cwd=tmp_path,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("connector_harness-*.whl")
    # A venv without pip of its own (ensurepip costs seconds and nothing here needs it): this
    # process's pip installs into it (`--python`), the wheel and its declared dependencies only.
    # --no-compile: the run below imports a small part of them, and compiling ~60 packages' .pyc
    # for every file cost more CPU than the certification itself.
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check")
    run(*pip, "install", "-q", "--no-compile", wheel, cwd=tmp_path, timeout=600)
    installed = run(python, "-c", "import harness; print(harness.__file__)", cwd=tmp_path, timeout=60)
    assert str(tmp_path / "venv") in installed.stdout  # the wheel's harness, not the checkout's
    work = tmp_path / "work"
    work.mkdir()
    certified = run(
        python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--connector={ROOT / 'examples' / 'acme_sync'}",
        "--cert-level=strict",
        "--seed=5",
        "--cert-report=cert.json",
        cwd=work,
        timeout=600,
    )
    assert "-> CERTIFIED" in certified.stdout
    assert sorted(p.name for p in work.iterdir()) == ["cert.json"]
