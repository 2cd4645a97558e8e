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


@pytest.mark.parametrize("sandbox", ["url:http://127.0.0.1:9", "container"])
def test_a_mutual_tls_contract_on_a_runtime_that_cannot_vouch_for_certificates(
    pytester: pytest.Pytester, monkeypatch, sandbox: str
) -> None:
    """The client-certificate front vouches in-process: a container or URL sandbox cannot serve a
    mutualTLS contract, which is one usage error naming the fix before the runtime starts."""
    monkeypatch.setenv("HARNESS_ADMIN_TOKEN", "x")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens there: never reached
    result = run(
        pytester,
        f"--connector={ROOT / 'examples' / 'inventory_mtls_sync'}",
        f"--contract={ROOT / 'tests' / 'contracts' / 'inventory_mtls.openapi.yaml'}",
        f"--sandbox={sandbox}",
    )
    err = assert_one_usage_error(
        result,
        "authenticate with a TLS client certificate",
        "(mutualTLS: components.securitySchemes.clientCertificate)",
        "Certify with --sandbox=embedded",
    )
    assert "did not start" not in err


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


# -- the contract and the manifest: one usage error each, before any check runs -----------------

NO_COLLECTION = """openapi: 3.1.0
info: {title: Status, version: '1'}
paths:
  /status:
    get:
      operationId: getStatus
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {type: object}}}
"""


TICKETS = '["tickets"]'


def command_connector(pytester: pytest.Pytester, streams: str) -> str:
    pytester.makefile(
        ".toml",
        connector=f'[connector]\nname = "c"\nversion = "1"\ncommand = ["python3", "c.py"]\n'
        f"scopes = []\nstreams = {streams}\n",
    )
    pytester.makepyfile(c="import sys\nfor line in sys.stdin:\n    pass\n")
    return str(pytester.path)


def test_a_contract_with_no_collection(pytester: pytest.Pytester) -> None:
    contract = pytester.makefile(".yaml", status=NO_COLLECTION)
    result = run(pytester, "--connector=" + command_connector(pytester, "[]"), f"--contract={contract}")
    assert_one_usage_error(
        result, "status.yaml: the contract has no collection", "GET /tickets/{id}", "harness contract lint"
    )


def test_an_x_sandbox_hint_that_names_no_field(pytester: pytest.Pytester) -> None:
    import json

    doc = json.loads((ROOT / "tests" / "contracts" / "ticketing.openapi.json").read_text())
    doc["paths"]["/tickets"]["get"]["x-sandbox"] = {"id": "ticket_no"}
    contract = pytester.makefile(".json", hinted=json.dumps(doc))
    result = run(pytester, "--connector=" + command_connector(pytester, TICKETS), f"--contract={contract}")
    assert_one_usage_error(
        result, "hinted.json#/paths/~1tickets/get/x-sandbox/id: `id: ticket_no` is not a tickets record field"
    )


def test_an_x_sandbox_hint_that_is_not_a_mapping(pytester: pytest.Pytester) -> None:
    import json

    doc = json.loads((ROOT / "tests" / "contracts" / "ticketing.openapi.json").read_text())
    doc["paths"]["/tickets"]["get"]["x-sandbox"] = "collection"
    contract = pytester.makefile(".json", hinted=json.dumps(doc))
    result = run(pytester, "--connector=" + command_connector(pytester, TICKETS), f"--contract={contract}")
    assert_one_usage_error(result, "`x-sandbox` is str 'collection', not a mapping of hints")


def test_a_manifest_that_syncs_no_stream(pytester: pytest.Pytester) -> None:
    contract = ROOT / "tests" / "contracts" / "ticketing.openapi.json"
    result = run(pytester, "--connector=" + command_connector(pytester, "[]"), f"--contract={contract}")
    assert_one_usage_error(result, "[connector] streams is empty", 'streams = ["tickets", "agents"]')


def test_a_manifest_naming_a_stream_the_contract_lacks(pytester: pytest.Pytester) -> None:
    contract = ROOT / "tests" / "contracts" / "ticketing.openapi.json"
    result = run(
        pytester,
        "--connector=" + command_connector(pytester, '["tickets", "tikets"]'),
        f"--contract={contract}",
    )
    assert_one_usage_error(result, "[connector.streams] names 'tikets'")
