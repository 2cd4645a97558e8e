"""`harness cert verify` gate options and `harness replay`: distinct exit codes, nothing run from a
path only the certificate names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.connectors import load_manifest
from harness.contract import default_contract_path
from harness.report import build_predicate, envelope, generate, load_private, statement, write_json
from harness.report.commands import EXIT_INVALID, EXIT_MISMATCH, EXIT_NOT_CERTIFIED, EXIT_OK, verify_command
from harness.report.digest import code_digest, file_sha256
from tests.conftest import ROOT
from tests.security.conftest import check_result

EXAMPLE = ROOT / "examples" / "acme_sync"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate(tmp_path / "keys")


@pytest.fixture
def connector(tmp_path: Path) -> Path:
    folder = tmp_path / "acme"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def certificate(
    tmp_path: Path,
    keys,
    connector: Path,
    platform_contract,
    *,
    status="passed",
    level="standard",
    signed=True,
    **over,
) -> Path:
    digest = code_digest(load_manifest(connector / "connector.toml", platform_contract))
    check = check_result(status=status)
    predicate = build_predicate(
        connector={
            "name": "acme-sync",
            "version": "1.0.0",
            "spec": str(connector),
            "manifest": "m",
            "digest": {"sha256": digest["sha256"]},
            "inputs": digest["inputs"],
        },
        contract={
            "title": "Acme",
            "file": str(default_contract_path()),
            "digest": {"sha256": file_sha256(default_contract_path())},
        },
        sandbox="embedded",
        seed=3,
        cert_level=level,
        started_at=datetime.now(UTC),
        checks=[check],
        required={"AUTH-01"},
        waivers={},
        replay="pytest",
        rootdir=str(tmp_path),
    )
    predicate.update(over)
    path = tmp_path / "cert.json"
    write_json(path, envelope(statement(predicate), load_private(str(keys[0])) if signed else None))
    return path


def run(path: Path, keys, **options) -> int:
    return verify_command(str(path), str(keys[1]), False, **options)


def test_a_matching_certified_certificate_passes_every_gate_option(
    tmp_path, keys, connector, platform_contract
):
    path = certificate(tmp_path, keys, connector, platform_contract, gate={"command": "harness certify"})
    assert (
        run(
            path,
            keys,
            require_verdict="certified",
            require_level="standard",
            connector=str(connector),
            contract=str(default_contract_path()),
            contract_digest=file_sha256(default_contract_path()),
            require_gate=True,
        )
        == EXIT_OK
    )


def test_not_certified_and_incomplete_are_not_a_pass(tmp_path, keys, connector, platform_contract, capsys):
    path = certificate(tmp_path, keys, connector, platform_contract, status="failed")
    assert run(path, keys) == EXIT_OK  # without a requirement verify only says what it is
    assert run(path, keys, require_verdict="certified") == EXIT_NOT_CERTIFIED
    assert "'not certified', not 'certified'" in capsys.readouterr().err


def test_mismatches_exit_3(tmp_path, keys, connector, platform_contract, capsys):
    path = certificate(tmp_path, keys, connector, platform_contract, level="basic")
    assert run(path, keys, require_level="standard") == EXIT_MISMATCH
    assert run(path, keys, contract_digest="c" * 64) == EXIT_MISMATCH
    assert run(path, keys, require_gate=True) == EXIT_MISMATCH  # a pytest --connector run
    pycache = connector / "acme_sync" / "__pycache__"
    pycache.mkdir()
    (pycache / "connector.cpython-311.pyc").write_bytes(b"planted bytecode")
    assert run(path, keys, connector=str(connector)) == EXIT_MISMATCH
    assert "manifest folder differ" in capsys.readouterr().err


def test_invalid_certificates_exit_1(tmp_path, keys, connector, platform_contract):
    unsigned = certificate(tmp_path, keys, connector, platform_contract, signed=False)
    assert run(unsigned, keys, require_verdict="certified") == EXIT_INVALID
    (tmp_path / "junk.json").write_text("{")
    assert run(tmp_path / "junk.json", keys) == EXIT_INVALID


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_replay_refuses_a_crafted_unsigned_certificate_and_runs_nothing(
    tmp_path, keys, connector, platform_contract
):
    evil = tmp_path / "evil"
    evil.mkdir()
    marker = tmp_path / "PWNED"
    (evil / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    shutil.copy(connector / "connector.toml", evil / "connector.toml")
    path = certificate(tmp_path, keys, connector, platform_contract, signed=False, rootdir=str(evil))
    crafted = harness(
        "replay", str(path), "--public-key", str(keys[1]), "--connector", str(evil), cwd=tmp_path
    )
    assert crafted.returncode == EXIT_INVALID and "unsigned" in crafted.stderr
    bare = harness("replay", str(path), cwd=tmp_path)  # no key, no connector: nothing to trust
    assert bare.returncode == 2 and "--public-key" in bare.stderr
    signed = certificate(tmp_path, keys, connector, platform_contract, rootdir=str(evil))
    other_code = harness(
        "replay", str(signed), "--public-key", str(keys[1]), "--connector", str(evil), cwd=tmp_path
    )
    assert other_code.returncode == EXIT_MISMATCH and "other code" in other_code.stderr
    assert not marker.exists()
