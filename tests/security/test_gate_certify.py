"""`harness certify`, attacked end to end: the connector's repository cannot configure the gate,
the key never reaches the certifying run, a run that writes nothing or is incomplete never exits 0,
code that changes while it is certified fails, and a connector that empties the platform fails INT-01.

Each test runs the real command in a subprocess (a few seconds each, level basic, few checks)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from harness.report import read_certificate
from tests.security.conftest import acme_connector as connector
from tests.security.conftest import certify, certify_basic

pytestmark = pytest.mark.slow


SPY = """
import gc, json, os, sys
from acme_sync.connector import AcmeSync

class Connector(AcmeSync):
    def __init__(self, config, sink):
        super().__init__(config, sink)
        self._spy = config["spy_out"]

    def check(self):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        keys = [o for o in gc.get_objects() if isinstance(o, Ed25519PrivateKey)]
        pem = [k for k, v in os.environ.items() if "PRIVATE KEY" in v]
        with open(self._spy, "w") as out:
            json.dump({"env": sorted(os.environ), "keys_in_memory": len(keys), "pem_in_env": pem}, out)
        super().check()
"""


def test_the_connectors_repository_cannot_configure_the_gate_and_never_sees_the_key(tmp_path):
    repo = connector(tmp_path, "spy", SPY)
    marker = tmp_path / "PWNED"
    (repo / "conftest.py").write_text(
        f"open({str(marker)!r}, 'w').write('conftest ran')\n"
        "def pytest_collection_modifyitems(items):\n    items[:] = []\n"
    )
    (repo / "pytest.ini").write_text(
        "[pytest]\naddopts = --checks=AUTH-01 -p no:harness\nharness_checks = AUTH-01\n"
    )
    (repo / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--checks=AUTH-01"\n')
    keys = subprocess.run(
        [sys.executable, "-m", "harness.cli", "keygen", "--out", str(tmp_path / "keys")], capture_output=True
    )
    assert keys.returncode == 0
    pem = (tmp_path / "keys" / "harness-signing.pem").read_text()
    result = certify(
        ".",
        "--level=basic",
        "--seed=4",
        "--report=../cert.json",
        cwd=repo,
        env={"HARNESS_SIGNING_KEY": pem, "PYTEST_ADDOPTS": "--checks=AUTH-01", "HARNESS_CHECKS": "AUTH-01"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists()
    env, doc = read_certificate(tmp_path / "cert.json")
    predicate = doc["predicate"]
    assert predicate["verdict"] == "certified" and env["signatures"]
    assert {c["id"] for c in predicate["checks"]} == {
        "AUTH-01",
        "CON-01",
        "INT-01",
        "INT-02",
        "SEC-01",
        "WH-01",
        "WH-02",
    }
    gate = predicate["gate"]
    assert gate["command"] == "harness certify" and "--noconftest" in gate["pytest"]
    spy = json.loads((tmp_path / "spy.json").read_text())
    assert spy["keys_in_memory"] == 0 and spy["pem_in_env"] == []
    assert not [name for name in spy["env"] if name.startswith(("HARNESS_", "PYTEST_ADDOPTS"))]
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "cert",
            "verify",
            "../cert.json",
            "--public-key",
            str(tmp_path / "keys" / "harness-signing.pub.pem"),
            "--require-verdict",
            "certified",
            "--require-gate",
            "--connector",
            ".",
        ],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert verify.returncode == 0, verify.stderr
    inside = certify(".", "--report=cert.json", cwd=repo)
    assert inside.returncode == 2 and "inside the connector's folder" in inside.stderr


def test_no_certificate_and_incomplete_never_exit_0_and_a_stale_certificate_is_removed(tmp_path):
    repo = connector(tmp_path, "plain", "from acme_sync.connector import AcmeSync as Connector\n")
    stale = tmp_path / "cert.json"
    stale.write_text('{"stale": true}')
    broken = certify(str(repo), "--contract=missing.yaml", f"--report={stale}", cwd=tmp_path)
    assert broken.returncode == 4 and "without writing a certificate" in broken.stderr
    assert not stale.exists()
    partial = certify(str(repo), "--level=basic", "--checks=AUTH-01", f"--report={stale}", cwd=tmp_path)
    assert partial.returncode == 3, partial.stdout + partial.stderr
    assert read_certificate(stale)[1]["predicate"]["verdict"] == "incomplete"


CHANGES_ITSELF = """
import pathlib
from acme_sync.connector import AcmeSync

class Connector(AcmeSync):
    def check(self):
        super().check()
        helper = pathlib.Path(__file__).with_name("payload.py")
        helper.write_text("STAGE = 2  # what runs later is not what was digested\\n")
"""


def test_code_that_changes_during_the_run_fails_the_certification(tmp_path):
    repo = connector(tmp_path, "self-modifying", CHANGES_ITSELF)
    (repo / "payload.py").write_text("STAGE = 1\n")
    result = certify_basic(repo, "AUTH-01", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    predicate = read_certificate(tmp_path / "cert.json")[1]["predicate"]
    assert predicate["verdict"] == "not certified"
    assert predicate["code_changed"] == ["manifest folder"]
    assert "code changed during the run" in result.stdout


DELETES_EVERYTHING = """
import time
from acme_sync.connector import AcmeSync

class Connector(AcmeSync):
    def _call(self, method, path, **options):
        while True:
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            response = self._client.request(method, f"{self._base_url}{path}", headers=headers, **options)
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def sync(self, state=None):
        while True:  # delete every record through the API, then store nothing
            ids = [r["id"] for r in self._call("GET", "/v1/contacts", params={"limit": 200}).json()["data"]]
            if not ids:
                return
            for record_id in ids:
                self._call("DELETE", f"/v1/contacts/{record_id}")
"""


def test_a_connector_that_deletes_every_record_and_stores_nothing_fails_int_01(tmp_path):
    repo = connector(
        tmp_path,
        "eraser",
        DELETES_EVERYTHING,
        scopes=["contacts:read", "contacts:write"],
        streams=["contacts"],
    )
    result = certify_basic(repo, "INT-01", "--junitxml=junit.xml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    check = read_certificate(tmp_path / "cert.json")[1]["predicate"]["checks"][0]
    assert check["id"] == "INT-01" and check["status"] == "failed"
    assert "contacts: lost" in check["message"]


LEAKS = """
import json
from acme_sync.connector import AcmeSync

class Connector(AcmeSync):
    def check(self):
        with open({spy!r}, "w") as out:
            json.dump({{"secret": self._client_secret}}, out)
        leak = f"{{self._client_id}}:{{self._client_secret}} (canary cnry00112233aabb)"
        raise RuntimeError(f"cannot log in with {{leak}}")
"""


def test_secrets_in_connector_errors_are_masked_in_every_rendering(tmp_path):
    repo = connector(tmp_path, "leaky", LEAKS.format(spy=str(tmp_path / "spy.json")))
    result = certify_basic(
        repo, "AUTH-01", "--html=r.html", "--md=r.md", "--junitxml=junit.xml", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    secret = json.loads((tmp_path / "spy.json").read_text())["secret"]
    cert_text = json.dumps(read_certificate(tmp_path / "cert.json")[1])
    renderings = {
        "cert.json": cert_text,
        "html": (tmp_path / "r.html").read_text(),
        "markdown": (tmp_path / "r.md").read_text(),
        "junit": (tmp_path / "junit.xml").read_text(),
        "terminal": result.stdout + result.stderr,
    }
    for name, text in renderings.items():
        assert secret not in text, name
        assert "cnry00112233aabb" not in text, name
    assert "cannot log in with" in cert_text  # the message itself is kept, masked
    assert ET.parse(tmp_path / "junit.xml").getroot().iter("failure")
