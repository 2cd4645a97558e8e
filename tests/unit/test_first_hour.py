"""The integrator's first hour: `harness init`, `harness checks`, `--version`, clean CLI errors,
fault rules checked against the contract, and a plugin that costs nothing without --connector."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from harness import __version__
from harness.checks import REGISTRY
from harness.runtime.handle import SandboxError
from harness.sandbox.faults import FaultError, FaultRule
from harness.scaffold import ScaffoldError, scaffold
from tests.conftest import CONTRACTS, ROOT


def harness(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_version_prints_the_package_version():
    done = harness("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"connector-harness {__version__}")


@pytest.mark.parametrize("level", ["basic", "standard", "strict"])
def test_checks_lists_the_catalogue_up_to_a_level(level):
    done = harness("checks", "--level", level)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["id", "level", "pillar", "title"]
    expected = REGISTRY.select(None, level)
    assert [r.split()[0] for r in rows] == [c.id for c in expected]
    for row, check in zip(rows, expected, strict=True):
        assert row.split(None, 3) == [check.id, check.level, check.pillar, check.title]


def test_an_unknown_level_is_a_usage_error():
    done = harness("checks", "--level", "gold")
    assert done.returncode == 2 and "invalid choice: 'gold'" in done.stderr


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_serve_refuses_a_bad_port_without_a_traceback(port):
    done = harness("sandbox", "serve", "--port", port)
    assert done.returncode == 2
    assert "argument --port" in done.stderr and "0..65535" in done.stderr
    assert "Traceback" not in done.stderr


def test_init_writes_a_manifest_for_the_contracts_collections(tmp_path):
    written = scaffold(tmp_path / "my-sync")
    names = sorted(p.relative_to(tmp_path / "my-sync").as_posix() for p in written)
    assert names == [".github/workflows/certify.yml", "connector.toml", "my_sync.py"]
    manifest = tomllib.loads((tmp_path / "my-sync" / "connector.toml").read_text())["connector"]
    assert manifest["python"] == "my_sync:Connector"
    assert manifest["streams"] == ["contacts", "companies", "deals"]
    # least privilege: read scopes of the list operations and the change feed, no write scope
    assert manifest["scopes"] == ["contacts:read", "companies:read", "deals:read", "events:read"]
    source = (tmp_path / "my-sync" / "my_sync.py").read_text()
    compile(source, "my_sync.py", "exec")
    for check_id in ("INT-04", "RES-01", "WH-01", "DATA-01", "AUTH-03"):
        assert f"TODO({check_id}" in source or f"{check_id}," in source


def test_init_command_writes_the_protocol_wrapper(tmp_path):
    scaffold(tmp_path / "tickets", kind="command")
    manifest = tomllib.loads((tmp_path / "tickets" / "connector.toml").read_text())["connector"]
    assert manifest["command"] == ["python", "cli.py"]
    assert "from tickets import Connector" in (tmp_path / "tickets" / "cli.py").read_text()


def test_init_scaffolds_page_and_offset_paged_contracts(tmp_path):
    scaffold(tmp_path / "inv", contract=str(CONTRACTS / "inventory.openapi.yaml"))
    code = (tmp_path / "inv" / "inv.py").read_text()
    assert "'style': 'page'" in code and "'page_param': 'page'" in code
    scaffold(tmp_path / "tix", contract=str(CONTRACTS / "ticketing_like.openapi.yaml"))
    code = (tmp_path / "tix" / "tix.py").read_text()
    assert "'style': 'offset'" in code and "'offset_param': 'offset'" in code
    compile(code, "tix.py", "exec")


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    with pytest.raises(ScaffoldError, match="not an empty folder"):
        scaffold(tmp_path / "taken")
    done = harness("init", str(tmp_path / "taken"))
    assert done.returncode == 2 and "not an empty folder" in done.stderr and "Traceback" not in done.stderr


def test_a_fault_rule_for_an_unknown_operation_names_the_closest_one():
    with pytest.raises(FaultError, match=r"rules\[0\]\.operation 'listContact' .*'listContacts'"):
        FaultRule.parse({"kind": "drop", "operation": "listContact"}, 0, ["listContacts", "getContact"])
    assert FaultRule.parse({"kind": "drop", "operation": "*"}, 0, ["listContacts"]).operation == "*"


def test_the_control_api_refuses_a_fault_rule_that_would_never_fire(sandbox):
    tenant = sandbox.new_tenant(seed=1)
    with pytest.raises(SandboxError, match=r"422: rules\[0\]\.operation 'listContact' .*'listContacts'"):
        tenant.set_faults([{"kind": "status", "operation": "listContact"}])
    assert tenant.set_faults([{"kind": "status", "operation": "listContacts"}])[0].operation == "listContacts"


HEAVY = (
    "harness.contract",
    "harness.sandbox",
    "harness.checks",
    "harness.synth",
)  # faker loads its own pytest plugin


def test_without_connector_the_plugin_imports_nothing_heavy(tmp_path):
    """The plugin's import cost without --connector: only harness.plugin and harness.config load."""
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n")
    probe = (
        "import sys, pytest\n"
        "code = pytest.main(['-q', '-p', 'no:cacheprovider', 'test_plain.py'])\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
        "raise SystemExit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    modules = done.stdout.split("MODULES ", 1)[1].split()
    assert "harness.plugin" in modules  # the plugin did load
    loaded = [
        m for m in modules if m.split(".")[0] in {"jsonschema", "rfc3987_syntax"} or m.startswith(HEAVY)
    ]
    assert loaded == []


def _predicate(message: str) -> dict:
    checks = [
        {"id": "AUTH-01", "pillar": "auth", "status": "passed", "title": "Gets its token.", "message": ""},
        {"id": "DATA-01", "pillar": "data", "status": "failed", "title": "Minimal.", "message": message},
    ]
    return {
        "connector": {"name": "acme-sync", "version": "1.0.0"},
        "contract": {"title": "Acme"},
        "sandbox": "embedded",
        "seed": 5,
        "cert_level": "standard",
        "checks": checks,
        "summary": {"passed": 1, "failed": 1, "error": 0, "not_applicable": 0, "waived": 0},
        "verdict": "not certified",
        "waivers": {},
        "not_run": [],
        "replay": "pytest --connector=x --seed=5",
    }


LONG = "it stored fields it does not declare under [connector.fields]: " + ", ".join(
    f"field_{i} [bold]x[/bold]" for i in range(40)
)


def test_off_a_terminal_the_summary_is_one_whole_line_per_check_with_markup_kept_as_text():
    from harness.report import summary_lines

    lines = summary_lines(_predicate(LONG + "\n(second line)"), [], width=80, terminal=False)
    data01 = [line for line in lines if "DATA-01" in line]
    assert len(data01) == 1  # one line, not wrapped at 80 columns
    assert data01[0].startswith("FAIL")
    assert data01[0].endswith(LONG + " (second line)")  # nothing cut, brackets printed as is
    assert any(line.startswith("PASS") and "AUTH-01" in line for line in lines)


def test_on_a_terminal_bracketed_text_is_not_eaten_as_markup():
    from harness.report import summary_lines

    text = "\n".join(summary_lines(_predicate("keep only [connector.fields]"), [], width=200))
    assert "[connector.fields]" in text


def test_every_check_has_a_fix_and_its_docs_section_says_the_same():
    import re

    from harness.report.fixes import FIXES

    assert set(FIXES) == {c.id for c in REGISTRY.all()}
    docs = (ROOT / "docs" / "connector-protocol.md").read_text()
    for check_id, text in FIXES.items():
        section = re.search(rf"^### {check_id}\n\n(.+?)\n", docs, re.M)
        assert section and section.group(1) == text, check_id


def test_the_html_report_says_what_to_change_for_each_failed_check_and_links_its_docs():
    from harness.report import render_html
    from tests.unit.test_certificate import check, predicate

    page = render_html(predicate([check("AUTH-01", "passed"), check("CON-01", "failed")]), signed=False)
    assert page.count("what to change:") == 1
    assert "href='docs/connector-protocol.md#con-01'" in page
    assert "Send only requests the contract allows" in page
