"""The subject digest covers everything that can run as the connector, and names what changed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness.connectors import load_manifest
from harness.report.digest import changed_inputs, code_digest

MANIFEST = """
[connector]
name = "digested"
version = "1.0.0"
{runner}
scopes = ["contacts:read"]
streams = ["contacts"]
{extra}
"""


def connector(tmp_path: Path, runner: str = 'python = "conn:Conn"', extra: str = "") -> Path:
    folder = tmp_path / "conn"
    folder.mkdir(exist_ok=True)
    (folder / "conn.py").write_text("class Conn:\n    pass\n")
    (folder / "connector.toml").write_text(MANIFEST.format(runner=runner, extra=extra))
    return folder / "connector.toml"


def digest_of(path: Path, contract) -> dict:
    return code_digest(load_manifest(path, contract))


@pytest.mark.parametrize(
    "relative",
    [
        "__pycache__/conn.cpython-311.pyc",  # a cached module Python would load
        "helper.pyc",  # a sourceless module: importable with no .py beside it
        "node_modules/left-pad/index.js",  # vendored dependencies run too
        ".venv/lib/python3.11/site-packages/evil.py",
        "build/native.so",
    ],
)
def test_compiled_and_vendored_files_are_in_the_digest(tmp_path, platform_contract, relative):
    manifest = connector(tmp_path)
    before = digest_of(manifest, platform_contract)
    target = manifest.parent / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"\x00code that runs")
    after = digest_of(manifest, platform_contract)
    assert after["sha256"] != before["sha256"]
    assert changed_inputs(before, after) == ["manifest folder"]


def test_python_path_folders_are_in_the_digest(tmp_path, platform_contract):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "util.py").write_text("X = 1\n")
    manifest = connector(tmp_path, extra='python_path = ["../shared"]')
    before = digest_of(manifest, platform_contract)
    assert [p["label"] for p in before["inputs"]] == ["manifest folder", "python_path ../shared"]
    (shared / "util.py").write_text("X = 2\n")
    after = digest_of(manifest, platform_contract)
    assert changed_inputs(before, after) == ["python_path ../shared"]


def test_a_command_found_on_path_is_in_the_digest(tmp_path, platform_contract, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "acme-tool"
    tool.write_text("#!/bin/sh\necho one\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    manifest = connector(tmp_path, runner='command = ["acme-tool"]')
    before = digest_of(manifest, platform_contract)
    executable = next(p for p in before["inputs"] if p["label"] == "command executable")
    assert executable["path"] == str(tool.resolve())
    tool.write_text("#!/bin/sh\necho two\n")
    assert changed_inputs(before, digest_of(manifest, platform_contract)) == ["command executable"]


def test_only_git_metadata_is_left_out_and_the_digest_is_stable(tmp_path, platform_contract):
    manifest = connector(tmp_path)
    before = digest_of(manifest, platform_contract)
    (manifest.parent / ".git").mkdir()
    (manifest.parent / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert digest_of(manifest, platform_contract) == before
