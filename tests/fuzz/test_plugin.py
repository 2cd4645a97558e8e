"""`pytest --connector=X --fuzz-findings=DIR`: saved findings run first, and fail while the defect lasts."""

from __future__ import annotations

import base64

import pytest

from harness.fuzz.findings import CampaignDir, Finding
from harness.fuzz.target import Limits
from harness.fuzz.webhooks import Webhooks
from harness.fuzz.world import World
from harness.report.certificate import read_certificate
from tests.fuzz.conftest import FLAWED, REFERENCE

FLAWED_CONNECTOR = FLAWED / "crashes_on_unknown_event"


@pytest.fixture(scope="module")
def campaign_dir(tmp_path_factory: pytest.TempPathFactory) -> CampaignDir:
    """A campaign holding the finding a real replay of `[]` gives on the flawed connector."""
    example = {"body": base64.b64encode(b"[]").decode(), "content_type": "application/json"}
    world = World.start(str(FLAWED_CONNECTOR))
    try:
        problem = Webhooks().execute(world, example, Limits(512)).problems[0]
    finally:
        world.close()
    directory = CampaignDir(tmp_path_factory.mktemp("campaign"))
    directory.create()
    finding = Finding(
        problem.key,
        problem.oracle,
        "webhooks",
        problem.message,
        example,
        "`[]`",
        str(FLAWED_CONNECTOR),
        None,
        1,
        1,
    )
    directory.save(finding)
    return directory


def certify(pytester: pytest.Pytester, connector, campaign_dir: CampaignDir) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--connector={connector}",
        f"--fuzz-findings={campaign_dir.root}",
        f"--cert-report={pytester.path / 'cert.json'}",
        "--checks=AUTH-01",
        "--seed=1",
        "-v",
        timeout=300,
    )


def test_a_saved_finding_runs_before_the_catalogue_and_fails_while_the_defect_is_there(
    pytester, campaign_dir
):
    result = certify(pytester, FLAWED_CONNECTOR, campaign_dir)
    lines = [line for line in result.outlines if "::" in line and ("PASSED" in line or "FAILED" in line)]
    assert lines[0].startswith("fuzz-findings::crash-") and "FAILED" in lines[0]
    assert "certification::auth::AUTH-01 PASSED" in lines[1]
    result.stdout.fnmatch_lines(
        ["*still fails: handle_webhook(headers, body) raised TypeError*", "*replay: harness fuzz*"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (replayed,) = certificate(pytester)["fuzz_findings"]
    assert replayed["outcome"] == "still fails" and replayed["target"] == "webhooks"
    assert replayed["id"].startswith("crash-") and "raised TypeError" in replayed["message"]


def test_a_fixed_finding_passes(pytester, campaign_dir):
    result = certify(pytester, REFERENCE, campaign_dir)
    result.assert_outcomes(passed=2)
    (replayed,) = certificate(pytester)["fuzz_findings"]
    assert replayed["outcome"] == "fixed" and replayed["message"] == ""


def certificate(pytester: pytest.Pytester) -> dict:
    """The predicate of the certificate the run wrote, checked against the certificate schema."""
    _, statement = read_certificate(pytester.path / "cert.json")
    return statement["predicate"]


def test_a_missing_findings_folder_is_a_usage_error(pytester, tmp_path):
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--connector={REFERENCE}",
        f"--fuzz-findings={tmp_path / 'none'}",
        timeout=120,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fuzz-findings*no such campaign directory or finding file*"])
