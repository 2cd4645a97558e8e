"""The CI gate: exit status, waivers, JUnit XML, signed certificates and replay, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "acme_sync"
FLAWED = ROOT / "tests" / "connectors" / "flawed" / "ignores_next_cursor"

pytestmark = pytest.mark.slow


def certify(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--checks=AUTH-01,INT-01", "--seed=5", *args, timeout=300
    )


def waived_manifest(folder: Path, waiver: str) -> Path:
    """A manifest in a folder of its own: pytester writes its stdout/stderr files into `folder`,
    and the manifest's folder is part of the code digest that must hold during the run."""
    (folder / "conn").mkdir(exist_ok=True)
    manifest = folder / "conn" / "connector.toml"
    manifest.write_text(f"""
[connector]
name = "paged-once"
version = "0.1.0"
python = "flawed_ignores_next_cursor:IgnoresNextCursor"
python_path = ["{FLAWED}", "{EXAMPLE}"]
scopes = ["contacts:read", "companies:read", "deals:read", "events:read"]
streams = ["contacts", "companies", "deals"]

[certification.waivers]
{waiver}
""")
    return manifest


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_a_failing_required_check_fails_the_run_and_junit_names_the_check(pytester: pytest.Pytester) -> None:
    result = certify(pytester, f"--connector={FLAWED}", "--junitxml=junit.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    suite = ET.parse(pytester.path / "junit.xml").getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"AUTH-01", "INT-01"}
    properties = {p.get("name"): p.get("value") for p in cases["INT-01"].iter("property")}
    assert properties["check_id"] == "INT-01"
    assert cases["INT-01"].find("failure") is not None


def test_a_waiver_is_printed_recorded_and_lets_the_gate_pass(pytester: pytest.Pytester) -> None:
    manifest = waived_manifest(
        pytester.path, 'INT-01 = "the vendor API pages server-side; tracked as ACME-42"'
    )
    result = certify(
        pytester,
        f"--connector={manifest}",
        "--cert-report=cert.json",
        "--checks=INT-01",
        "--cert-level=basic",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*waiver INT-01: the vendor API pages server-side; tracked as ACME-42*"])
    result.assert_outcomes(xfailed=1)
    env = json.loads((pytester.path / "cert.json").read_text())
    assert env["signatures"] == []
    from harness.report import read_certificate

    _, doc = read_certificate(pytester.path / "cert.json")
    predicate = doc["predicate"]
    check = next(c for c in predicate["checks"] if c["id"] == "INT-01")
    assert check["status"] == "failed" and check["waived"].startswith("the vendor API")
    assert predicate["waivers"] == {"INT-01": "the vendor API pages server-side; tracked as ACME-42"}


def test_a_waiver_for_an_unknown_check_is_a_usage_error(pytester: pytest.Pytester) -> None:
    manifest = waived_manifest(pytester.path, 'INT-1 = "typo"')
    result = certify(pytester, f"--connector={manifest}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*[[]certification.waivers] waives 'INT-1', which is not a check*", "*did you mean 'INT-01'?"]
    )


def test_signed_reports_verify_and_replay_reproduces_a_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = harness("keygen", "--out", "keys", cwd=pytester.path)
    assert keys.returncode == 0, keys.stderr
    monkeypatch.setenv("HARNESS_SIGNING_KEY", str(pytester.path / "keys" / "harness-signing.pem"))
    result = certify(
        pytester,
        f"--connector={FLAWED}",
        "--cert-report=cert.json",
        "--cert-html=report.html",
        "--cert-md=report.md",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (pytester.path / "report.html").read_text().count("INT-01") >= 1
    assert "not certified" in (pytester.path / "report.md").read_text()
    ok = harness(
        "cert", "verify", "cert.json", "--public-key", "keys/harness-signing.pub.pem", cwd=pytester.path
    )
    assert ok.returncode == 0, ok.stderr
    assert "signature valid" in ok.stdout and "not certified" in ok.stdout
    public = "keys/harness-signing.pub.pem"
    replay = harness(
        "replay",
        "cert.json",
        "--public-key",
        public,
        "--connector",
        str(FLAWED),
        "--check",
        "INT-01",
        cwd=pytester.path,
    )
    assert replay.returncode == 1, replay.stderr
    assert "--seed=5" in replay.stdout and "contacts: lost" in replay.stdout
    unknown = harness(
        "replay",
        "cert.json",
        "--public-key",
        public,
        "--connector",
        str(FLAWED),
        "--check",
        "NOPE-01",
        cwd=pytester.path,
    )
    assert unknown.returncode == 2 and "not a check of this certificate" in unknown.stderr
    elsewhere = harness(
        "replay", "cert.json", "--public-key", public, "--connector", str(EXAMPLE), cwd=pytester.path
    )
    assert elsewhere.returncode == 3 and "other code" in elsewhere.stderr
