"""Nothing secret in any rendering, and connector text is inert in Markdown and the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

import harness.runtime
from harness.contract import load
from harness.report import build_predicate, render_html, render_markdown, summary_lines
from harness.report.markdown import md_text
from harness.report.mask import Masker, secrets_in
from tests.security.conftest import check_result

SECRET = "cs_" + "s3cr3tValue_" * 3
TOKEN = "at_" + "A" * 40
CANARY = "cnry0123456789ab"
SK_TEST = "^sk_test_[A-Za-z0-9]{24}$"
REAL = Path(__file__).resolve().parents[1] / "contracts" / "real"


def test_known_values_and_issued_formats_are_masked():
    masker = Masker(["my-very-own-secret"])
    text = f"boom my-very-own-secret {TOKEN} whsec_c2VjcmV0LWtleQ== c2VjcmV0LWtleQ== {CANARY} con_1"
    masker.add("whsec_c2VjcmV0LWtleQ==")
    masked = masker.text(text)
    for secret in ("my-very-own-secret", TOKEN, "whsec_", "c2VjcmV0LWtleQ==", CANARY):
        assert secret not in masked
    assert masked.startswith("boom ****") and masked.endswith("con_1")
    nested = masker.value({"details": [f"x {CANARY}"], CANARY: 1})
    assert CANARY not in str(nested)


def test_credentials_in_a_tenant_description_are_collected():
    info = {
        "id": "ten_1",
        "client_secret": SECRET,
        "api_key": {"value": "k" * 10},
        "auth": {"password": "pw123456"},
    }
    assert set(secrets_in(info)) == {SECRET, "pw123456"}


HOSTILE = (
    "<img src=x onerror=alert(1)> [click](javascript:alert(1)) ![p](http://evil/x.png) "
    "| fake | row | ``` `` <script>alert(2)</script>\n## heading"
)


def hostile_predicate() -> dict:
    requests = [{"seq": 1, "method": "GET", "path": "/v1/```x", "status": 400}]
    check = check_result(status="failed", message=HOSTILE, evidence={"requests": requests})
    return build_predicate(
        connector={
            "name": "<b>evil</b>",
            "version": "1",
            "spec": "x",
            "manifest": "m",
            "digest": {"sha256": "a" * 64},
        },
        contract={"title": "C", "file": "c", "digest": {"sha256": "b" * 64}},
        sandbox="embedded",
        seed=1,
        cert_level="basic",
        started_at=datetime.now(UTC),
        checks=[check],
        required={"AUTH-01"},
        waivers={"AUTH-01": "[x](javascript:alert(3))"},
        replay="pytest",
        rootdir="/",
    )


def test_markdown_escapes_raw_html_links_tables_and_fences():
    md = render_markdown(hostile_predicate(), signed=False)
    for raw in ("<img", "<script", "<b>", "](javascript:", "javascript:", "![p](", "\n## heading"):
        assert raw not in md
    table = [line for line in md.splitlines() if line.startswith("| FAIL")]
    assert len(table) == 1 and table[0].count(" | ") == 3  # the message's pipes did not add columns
    fence = next(line for line in md.splitlines() if set(line) == {"`"} and len(line) > 3)
    assert fence == "````"  # longer than the ``` inside the block
    assert md_text("a*b_c") == "a\\*b\\_c"


def test_html_and_terminal_render_connector_text_inert():
    predicate = hostile_predicate()
    html = render_html(predicate, signed=False)
    assert "<script" not in html and "<img" not in html and "<b>evil" not in html
    predicate["checks"][0]["message"] = "[bold red]CERTIFIED[/] \x1b[2J\x1b[32mPASS"
    lines = "\n".join(summary_lines(predicate, [], color=True))
    assert "\x1b[2J" not in lines and "[bold red]CERTIFIED[/]" in lines


def _minted(contract) -> list[str]:
    """A tenant's client secret and a token from its token endpoint (when it has one), as the
    contract's sandbox issues them."""
    with harness.runtime.embedded(contract) as sandbox:
        tenant = sandbox.new_tenant(seed=9)
        minted = [tenant.client_secret]
        if tenant.token_url:
            answer = httpx.post(
                tenant.token_url,
                data={"grant_type": "client_credentials"},
                auth=(tenant.client_id, tenant.client_secret),
                timeout=10,
            )
            minted.append(answer.json()["access_token"])
    return minted


def _hinted_copy(tmp_path: Path, source: Path, scheme: str, pattern: str) -> Path:
    doc = json.loads(source.read_text())
    doc["components"]["securitySchemes"][scheme]["x-sandbox"] = {"credential": {"pattern": pattern}}
    copy = tmp_path / source.name
    copy.write_text(json.dumps(doc))
    return copy


def test_credentials_in_the_contracts_formats_are_masked_without_being_known(tmp_path, platform_contract):
    """The masker is told no value here: it knows the shapes from the contract alone (default
    shapes, a JWT bearer, a hinted `sk_test_` key), as it must for tokens it never saw."""
    contracts = [
        platform_contract,
        load(REAL / "1password.com-events.json"),
        load(_hinted_copy(tmp_path, REAL / "nytimes.com-archive.json", "apikey", SK_TEST)),
    ]
    for contract in contracts:
        minted = _minted(contract)
        masker = Masker.for_contract(contract)
        text = masker.text("refused: " + " and ".join(f"Authorization: Bearer {value}" for value in minted))
        for value in minted:
            assert value not in text, (contract.title, value)
        assert text.startswith("refused: Authorization: Bearer ****")
    assert Masker().text("record con_1 page 2 of 3 cursor abc123") == "record con_1 page 2 of 3 cursor abc123"
