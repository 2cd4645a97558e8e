"""The plugin end to end: pytest runs in a subprocess against real and flawed connectors."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "acme_sync"
FLAWED = ROOT / "tests" / "connectors" / "flawed"

pytestmark = pytest.mark.slow


THREE = "--checks=AUTH-01,CON-01,INT-01"  # the plugin's behaviour, not the catalogue (test_catalogue.py)


def certify(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a subprocess; three checks unless the test picks its own."""
    picked = any(a.startswith(("--checks", "-k", "--help")) for a in args)
    chosen = [] if picked else [THREE]
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *chosen, *args, timeout=300)


def predicate(pytester: pytest.Pytester) -> dict:
    from harness.report import read_certificate

    return read_certificate(pytester.path / "cert.json")[1]["predicate"]


def test_reference_connector_passes_the_checks_it_ran(pytester: pytest.Pytester) -> None:
    result = certify(pytester, f"--connector={EXAMPLE}", "--seed=11", "--cert-report=cert.json", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "harness: certifying acme-sync 1.0.0 *seed 11",
            "certification::auth::AUTH-01 PASSED*",
            "certification::contract::CON-01 PASSED*",
            "certification::integrity::INT-01 PASSED*",
            "*3 passed, 0 failed, 0 errors, 0 not applicable, 0 waived -> INCOMPLETE",
            "required but not run: *",
        ]
    )
    cert = predicate(pytester)
    assert cert["verdict"] == "incomplete"  # --checks ran a part of the catalogue
    assert "AUTH-02" in cert["not_run"]
    assert cert["seed"] == 11
    assert [c["id"] for c in cert["checks"]] == ["AUTH-01", "CON-01", "INT-01"]
    assert {c["status"] for c in cert["checks"]} == {"passed"}


def test_the_replay_command_reproduces_the_failure(pytester: pytest.Pytester) -> None:
    first = certify(pytester, f"--connector={FLAWED / 'ignores_next_cursor'}")
    replay = re.search(r"Reproduce with:\n\s+(pytest .*)", first.stdout.str())
    assert replay, first.stdout.str()
    args = shlex.split(replay.group(1))[1:]
    assert any(a.startswith("--seed=") for a in args) and "--checks=INT-01" in args
    again = certify(pytester, *args)
    again.assert_outcomes(failed=1)
    lost = re.compile(r"contacts: lost \d+ of \d+ records \(e\.g\. (con_\w+)\)")
    assert lost.search(first.stdout.str()).group(0) == lost.search(again.stdout.str()).group(0)


def test_without_connector_the_plugin_stays_out_of_the_way(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n")
    result = certify(pytester)
    result.assert_outcomes(passed=1)
    assert "harness:" not in result.stdout.str()
    assert "connector certification" not in result.stdout.str()


def test_named_test_paths_run_beside_the_certification(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_mine():\n    pass\n")
    only_cert = certify(pytester, f"--connector={EXAMPLE}", "--checks=AUTH-01")
    only_cert.assert_outcomes(passed=1)
    both = certify(pytester, f"--connector={EXAMPLE}", "--checks=AUTH-01", "test_mine.py")
    both.assert_outcomes(passed=2)


def test_checks_are_selected_by_id_pillar_or_k(pytester: pytest.Pytester) -> None:
    by_pillar = certify(pytester, f"--connector={EXAMPLE}", "--checks=integrity", "--collect-only", "-q")
    by_pillar.stdout.fnmatch_lines(["certification::integrity::INT-01"])
    assert "AUTH-01" not in by_pillar.stdout.str()
    by_k = certify(pytester, f"--connector={EXAMPLE}", "-k", "AUTH-01 or CON-01", "--collect-only", "-q")
    by_k.stdout.fnmatch_lines(["certification::auth::AUTH-01", "certification::contract::CON-01"])
    assert "INT-01" not in by_k.stdout.str()


def test_unknown_check_is_a_usage_error_with_a_suggestion(pytester: pytest.Pytester) -> None:
    result = certify(pytester, f"--connector={EXAMPLE}", "--checks=AUTH-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--checks: 'AUTH-1' is not one of*Did you mean 'AUTH-01'?"])


def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    level = certify(pytester, f"--connector={EXAMPLE}", "--cert-level=stric")
    assert level.ret == pytest.ExitCode.USAGE_ERROR
    level.stderr.fnmatch_lines(
        ["*--cert-level: 'stric' is not one of basic, standard, strict. Did you mean 'strict'?"]
    )
    seed = certify(pytester, f"--connector={EXAMPLE}", "--seed=abc")
    assert seed.ret == pytest.ExitCode.USAGE_ERROR
    seed.stderr.fnmatch_lines(["*--seed must be a whole number, got 'abc'"])
    sandbox = certify(pytester, f"--connector={EXAMPLE}", "--sandbox=contaner")
    assert sandbox.ret == pytest.ExitCode.USAGE_ERROR
    sandbox.stderr.fnmatch_lines(["*--sandbox: 'contaner' is not one of *Did you mean 'container'?"])
    address = certify(pytester, f"--connector={EXAMPLE}", "--sandbox=url:localhost:8765")
    assert address.ret == pytest.ExitCode.USAGE_ERROR
    address.stderr.fnmatch_lines(["*give the sandbox's address, e.g. url:http://127.0.0.1:8765"])


def test_a_broken_manifest_names_the_file_key_and_fix(pytester: pytest.Pytester) -> None:
    manifest = pytester.path / "connector.toml"
    manifest.write_text(
        '[connector]\nname = "x"\nversion = "1"\npython = "x:X"\n'
        'scopes = ["contacts:read"]\nstreams = ["contact"]\n'
    )
    result = certify(pytester, f"--connector={manifest}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*{manifest}: [[]connector.streams] names 'contact', which * does not have",
            "*fix: did you mean 'contacts'?",
        ]
    )


def test_settings_come_from_ini_and_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(f"[pytest]\nharness_connector = {EXAMPLE}\nharness_checks = AUTH-01\n")
    monkeypatch.setenv("HARNESS_SEED", "4242")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)  # the ini picks the checks
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["harness: certifying acme-sync 1.0.0 *seed 4242"])
    overridden = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--seed=5", timeout=300)
    overridden.stdout.fnmatch_lines(["harness: certifying acme-sync 1.0.0 *seed 5"])


def test_a_connector_given_as_module_and_class(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLE))
    result = certify(pytester, "--connector=acme_sync.connector:AcmeSync", "--checks=AUTH-01,CON-01", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["harness: certifying connector 0 (acme_sync.connector:AcmeSync)*"])


def test_help_explains_the_options(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # the entry point loads the plugin, as in an install (tests/conftest.py turns autoload off)
    for name in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_PLUGINS"):
        monkeypatch.delenv(name)
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "connector certification (connector-harness):",
            "*--connector=PATH*",
            "*--seed=N*",
        ]
    )


def test_the_command_connector_example_passes(pytester: pytest.Pytester) -> None:
    result = certify(pytester, f"--connector={ROOT / 'examples' / 'acme_sync_cli'}", "--seed=3")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*3 passed, 0 failed, 0 errors, 0 not applicable, 0 waived -> INCOMPLETE"])


def test_xdist_workers_share_the_seed_and_the_verdict(pytester: pytest.Pytester) -> None:
    xdist = ("-p", "xdist", "-n", "2")  # child pytest loads only the harness plugin (tests/conftest.py)
    result = certify(pytester, f"--connector={EXAMPLE}", "--seed=21", *xdist, "--cert-report=cert.json")
    result.assert_outcomes(passed=3)
    cert = predicate(pytester)
    assert cert["seed"] == 21 and cert["verdict"] == "incomplete"
    assert [c["id"] for c in cert["checks"]] == ["AUTH-01", "CON-01", "INT-01"]
    failing = certify(pytester, f"--connector={FLAWED / 'ignores_next_cursor'}", "--seed=21", *xdist)
    failing.assert_outcomes(passed=2, failed=1)
    assert "contacts: lost 600 of 700 records" in failing.stdout.str()


def test_fixtures_for_integrators_own_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_own="""
        def test_sync_into_the_replica(harness_connector, harness_replica, harness_tenant):
            harness_connector.check()
            harness_connector.sync(None)
            truth = {r["id"] for r in harness_tenant.records("contacts")}
            assert set(harness_replica.rows["contacts"]) == truth

        def test_tenants_are_fresh_per_test(harness_tenant, harness_sandbox):
            assert harness_tenant.requests() == []
            assert harness_sandbox.health()["status"] == "ok"
    """
    )
    result = certify(pytester, f"--connector={EXAMPLE}", "--checks=AUTH-01", "test_own.py")
    result.assert_outcomes(passed=3)
    without = certify(pytester, "test_own.py", "-k", "fresh")
    without.assert_outcomes(passed=1, deselected=1)


def test_the_fixtures_reach_a_mutual_tls_platform_through_its_front(pytester: pytest.Pytester) -> None:
    """harness_connector on a mutualTLS contract is given the tenant's client-certificate front,
    as a check's connectors are, and the certificate it presents authenticates its requests."""
    pytester.makepyfile(
        test_own="""
        def test_sync_into_the_replica(harness_connector, harness_replica, harness_tenant):
            harness_connector.sync(None)
            truth = {r["sku"] for r in harness_tenant.records("products")}
            assert truth and set(harness_replica.rows["products"]) == truth
            assert {e.auth.credential for e in harness_tenant.requests().api()} == {"certificate"}
    """
    )
    result = certify(
        pytester,
        f"--connector={ROOT / 'examples' / 'inventory_mtls_sync'}",
        f"--contract={ROOT / 'tests' / 'contracts' / 'inventory_mtls.openapi.yaml'}",
        "--checks=AUTH-01",
        "test_own.py",
    )
    result.assert_outcomes(passed=2)


def test_checks_side_by_side_give_the_verdicts_of_one_at_a_time(pytester: pytest.Pytester) -> None:
    """Same seed, same results (statuses, failure messages, order) whatever ran beside a check."""
    runs = {}
    for workers in ("1", "3"):
        result = certify(
            pytester,
            f"--connector={FLAWED / 'ignores_next_cursor'}",
            "--checks=AUTH-01,CON-01,INT-01,INT-02",
            "--seed=5",
            f"--check-workers={workers}",
            "--cert-report=cert.json",
        )
        replay = "*pytest --connector=* --seed=5 --checks=INT-01"
        result.stdout.fnmatch_lines(["*INT-01 failed*", "*seed: 5", "Reproduce with:", replay])
        runs[workers] = [(c["id"], c["status"], c["message"]) for c in predicate(pytester)["checks"]]
    assert [c[0] for c in runs["3"]] == ["AUTH-01", "CON-01", "INT-01", "INT-02"]
    assert runs["3"] == runs["1"]
    assert ("INT-01", "failed") in {(c[0], c[1]) for c in runs["3"]}


def test_check_workers_must_be_a_whole_number(pytester: pytest.Pytester) -> None:
    result = certify(pytester, f"--connector={EXAMPLE}", "--check-workers=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--check-workers must be a whole number from 1*'0'*"])
