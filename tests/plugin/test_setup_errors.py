"""Every setup problem is one usage error before any check runs, never a failure per check or a crash."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "acme_sync"

pytestmark = pytest.mark.slow


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--checks=AUTH-01,CON-01", *args, timeout=300
    )


def assert_one_usage_error(result: pytest.RunResult, *words: str) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    err = result.stderr.str()
    assert "Traceback" not in err + result.stdout.str()
    assert "certification::" not in result.stdout.str()  # no check ran
    for word in words:
        assert word in err, err
    return err


def test_a_connector_module_that_does_not_exist(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--connector=my_pkg.sync:AcmeSync")
    assert_one_usage_error(result, "cannot import 'my_pkg.sync'", "python_path")


def test_a_connector_module_with_a_syntax_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken_conn="class Broken(:\n    pass\n")
    result = run(pytester, "--connector=broken_conn:Broken")
    assert_one_usage_error(result, "cannot import 'broken_conn'", "broken_conn.py, line 1")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "soon"])
def test_a_connector_timeout_that_is_not_a_positive_number(pytester: pytest.Pytester, value: str) -> None:
    result = run(pytester, f"--connector={EXAMPLE}", f"--connector-timeout={value}")
    assert_one_usage_error(result, "--connector-timeout must be a positive number of seconds")


def test_a_url_runtime_that_refuses_connections(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_ADMIN_TOKEN", "x")
    result = run(pytester, f"--connector={EXAMPLE}", "--sandbox=url:http://127.0.0.1:9")
    assert_one_usage_error(
        result, "the url sandbox did not start", "no sandbox answers at http://127.0.0.1:9"
    )


def test_a_url_runtime_without_its_admin_token(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.delenv("HARNESS_ADMIN_TOKEN", raising=False)
    result = run(pytester, f"--connector={EXAMPLE}", "--sandbox=url:http://127.0.0.1:9")
    assert_one_usage_error(result, "HARNESS_ADMIN_TOKEN")


def test_a_container_runtime_without_a_docker_engine(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens there
    result = run(pytester, f"--connector={EXAMPLE}", "--sandbox=container")
    assert_one_usage_error(result, "the container sandbox did not start", "no Docker engine answers")


def test_a_missing_container_image(pytester: pytest.Pytester, monkeypatch) -> None:
    docker = pytest.importorskip("docker")
    try:
        docker.from_env().ping()
    except Exception:
        pytest.skip("needs a Docker engine")
    monkeypatch.setenv("HARNESS_IMAGE", "connector-harness-sandbox:no-such-tag")
    result = run(pytester, f"--connector={EXAMPLE}", "--sandbox=container")
    assert_one_usage_error(result, "the container sandbox did not start")
