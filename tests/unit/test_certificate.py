"""Certificates: what is signed verifies, anything changed does not, and verdicts follow the rules."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.report import (
    SigningError,
    build_predicate,
    envelope,
    generate,
    load_private,
    load_public,
    read_certificate,
    render_html,
    render_markdown,
    statement,
    verdict,
    verify,
    write_json,
)
from harness.report.commands import verify_command


def check(check_id: str, status: str, *, required: bool = True, waived: str | None = None) -> dict:
    return {
        "id": check_id,
        "pillar": "auth",
        "severity": "critical",
        "title": f"title of {check_id}",
        "required": required,
        "status": status,
        "waived": waived,
        "duration": 0.5,
        "message": "" if status == "passed" else f"{check_id} went wrong",
        "expected": "",
        "evidence": {
            "requests": [
                {
                    "seq": 1,
                    "method": "GET",
                    "path": "/v1/contacts",
                    "status": 400,
                    "query": {"limit": ["1000"]},
                }
            ]
        }
        if status == "failed"
        else {},
    }


def predicate(checks: list[dict], required: set[str] | None = None) -> dict:
    return build_predicate(
        connector={
            "name": "acme-sync",
            "version": "1.0.0",
            "spec": "examples/acme_sync",
            "manifest": "m.toml",
            "digest": {"sha256": "a" * 64},
        },
        contract={
            "title": "Acme CRM",
            "file": "contracts/platform.openapi.yaml",
            "digest": {"sha256": "b" * 64},
        },
        sandbox="embedded",
        seed=7,
        cert_level="standard",
        started_at=datetime.now(UTC),
        checks=checks,
        required=required if required is not None else {c["id"] for c in checks if c["required"]},
        waivers={c["id"]: c["waived"] for c in checks if c["waived"]},
        replay="pytest --seed=7",
        rootdir="/tmp",
    )


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate(tmp_path / "keys")


def signed_file(tmp_path: Path, keys: tuple[Path, Path], checks: list[dict] | None = None) -> Path:
    path = tmp_path / "cert.json"
    doc = statement(predicate(checks or [check("AUTH-01", "passed")]))
    write_json(path, envelope(doc, load_private(str(keys[0]))))
    return path


def test_a_signed_certificate_verifies_with_its_public_key(tmp_path, keys, capsys):
    path = signed_file(tmp_path, keys)
    env, doc = read_certificate(path)
    verify(env, load_public(keys[1]))
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["subject"][0] == {"name": "connector:acme-sync@1.0.0", "digest": {"sha256": "a" * 64}}
    assert verify_command(str(path), str(keys[1]), False) == 0
    assert "signature valid" in capsys.readouterr().out


def test_changing_any_byte_of_the_payload_breaks_the_signature(tmp_path, keys):
    path = signed_file(tmp_path, keys)
    env = json.loads(path.read_text())
    payload = base64.b64decode(env["payload"])
    public = load_public(keys[1])
    for index in range(0, len(payload), max(1, len(payload) // 40)):  # bytes spread over every field
        altered = bytearray(payload)
        altered[index] ^= 0x01
        forged = {**env, "payload": base64.b64encode(bytes(altered)).decode()}
        with pytest.raises(SigningError):
            verify(forged, public)


def test_a_changed_verdict_fails_verification_from_the_command_line(tmp_path, keys, capsys):
    path = signed_file(tmp_path, keys, [check("AUTH-01", "failed")])
    env = json.loads(path.read_text())
    doc = json.loads(base64.b64decode(env["payload"]))
    assert doc["predicate"]["verdict"] == "not certified"
    doc["predicate"]["verdict"] = "certified"
    env["payload"] = base64.b64encode(
        json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    ).decode()
    path.write_text(json.dumps(env))
    assert verify_command(str(path), str(keys[1]), False) == 1
    assert "altered or signed with another key" in capsys.readouterr().err


def test_the_wrong_key_and_a_changed_payload_type_do_not_verify(tmp_path, keys):
    path = signed_file(tmp_path, keys)
    _, other_public = generate(tmp_path / "other")
    env = json.loads(path.read_text())
    with pytest.raises(SigningError, match="another key"):
        verify(env, load_public(other_public))
    with pytest.raises(SigningError):
        verify({**env, "payloadType": "application/json"}, load_public(keys[1]))


def test_an_unsigned_certificate_never_verifies_as_signed(tmp_path, keys, capsys):
    path = tmp_path / "cert.json"
    write_json(path, envelope(statement(predicate([check("AUTH-01", "passed")])), None))
    env, _ = read_certificate(path)
    with pytest.raises(SigningError, match="unsigned"):
        verify(env, load_public(keys[1]))
    assert verify_command(str(path), str(keys[1]), False) == 1
    assert verify_command(str(path), None, False) == 1
    assert verify_command(str(path), None, True) == 0
    assert "unsigned" in capsys.readouterr().out


def test_a_statement_that_breaks_the_schema_is_refused(tmp_path):
    doc = statement(predicate([check("AUTH-01", "passed")]))
    doc["predicate"]["checks"][0]["status"] = "sort of"
    path = tmp_path / "cert.json"
    write_json(path, envelope(doc, None))
    with pytest.raises(
        SigningError, match="does not match the certificate schema at /predicate/checks/0/status"
    ):
        read_certificate(path)


def test_keys_are_ed25519_and_keygen_does_not_overwrite(tmp_path, keys):
    assert oct(keys[0].stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SigningError, match="exists"):
        generate(tmp_path / "keys")
    rsa_like = tmp_path / "bad.pem"
    rsa_like.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningError, match="not an unencrypted PEM private key"):
        load_private(str(rsa_like))
    assert load_private(keys[0].read_text()) is not None  # the env var may hold the PEM text itself


@pytest.mark.parametrize(
    ("checks", "required", "expected"),
    [
        ([check("A-01", "passed"), check("B-01", "not_applicable")], None, "certified"),
        ([check("A-01", "passed"), check("B-01", "failed")], None, "not certified"),
        ([check("A-01", "passed"), check("B-01", "error")], None, "not certified"),
        ([check("A-01", "passed"), check("B-01", "failed", waived="vendor API quirk")], None, "certified"),
        ([check("A-01", "passed"), check("S-01", "failed", required=False)], None, "certified"),
        ([check("A-01", "passed")], {"A-01", "B-01"}, "incomplete"),
        ([check("A-01", "failed")], {"A-01", "B-01"}, "not certified"),
    ],
)
def test_verdict_rules(checks, required, expected):
    assert verdict(checks, required or {c["id"] for c in checks if c["required"]}) == expected


def test_html_and_markdown_carry_verdict_checks_evidence_and_replay():
    doc = predicate([check("AUTH-01", "passed"), check("CON-01", "failed")])
    html = render_html(doc, signed=False)
    assert "NOT CERTIFIED" in html and "CON-01" in html and "<details>" in html
    assert "/v1/contacts?limit=1000" in html and "pytest --seed=7" in html and "unsigned" in html
    assert "<script" not in html and "http" not in html.split("<body>")[0].replace("http-equiv", "")
    md = render_markdown(doc, signed=True)
    assert md.startswith("## ❌ acme-sync 1.0.0: not certified")
    assert "| FAIL | **CON-01**" in md and "signed" in md and "pytest --seed=7" in md


def test_code_that_changed_during_the_run_is_never_certified():
    checks = [check("A-01", "passed")]
    assert verdict(checks, {"A-01"}, code_changed=["python_path ../shared"]) == "not certified"
    doc = build_predicate(**{**predicate_args(checks), "code_changed": ["manifest folder"]})
    assert doc["verdict"] == "not certified" and doc["code_changed"] == ["manifest folder"]
    assert "code changed during the run: manifest folder" in render_markdown(doc, signed=False)


def test_the_audit_anchor_changes_with_any_head():
    from harness.report.certificate import audit_anchor

    head = {"tenant": "ten_1", "key_id": "hmac-sha256:ab", "seq": 4, "hash": "c" * 64}
    checks = [{**check("A-01", "passed"), "audit": [head]}]
    anchor = audit_anchor(checks)
    assert anchor["key_ids"] == ["hmac-sha256:ab"]
    shorter = [{**checks[0], "audit": [{**head, "seq": 3}]}]
    assert audit_anchor(shorter)["sha256"] != anchor["sha256"]


def predicate_args(checks: list[dict]) -> dict:
    return dict(
        connector={"name": "a", "version": "1", "spec": "s", "manifest": "m", "digest": {"sha256": "a" * 64}},
        contract={"title": "C", "file": "c", "digest": {"sha256": "b" * 64}},
        sandbox="embedded",
        seed=1,
        cert_level="basic",
        started_at=datetime.now(UTC),
        checks=checks,
        required={c["id"] for c in checks},
        waivers={},
        replay="pytest",
        rootdir="/",
    )
