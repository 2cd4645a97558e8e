"""Root causes: a failed check that ran into requests refused for breaking the contract suspects CON-01,
and the certificate reports it inconclusive when CON-01 failed in the same run."""

from __future__ import annotations

from harness.checks import REGISTRY
from harness.checks.root_causes import suspect
from harness.report.certificate import root_causes
from tests.unit.checks.evidence import log, request
from tests.unit.test_certificate import check

SUSPECT = {"check": "CON-01", "reason": "the platform refused 4"}
TOO_LARGE = [{"pointer": "/query/limit", "message": "1000 is greater than the maximum of 200"}]


def test_requests_refused_for_breaking_the_contract_make_a_failed_check_suspect_con_01() -> None:
    refused = log(request(1, 400, query={"limit": ["1000"]}, violations=TOO_LARGE))
    found = suspect(REGISTRY["INT-01"], [refused])
    assert found is not None and found.check == "CON-01"
    assert (
        "refused 1 of its requests as breaking the contract, e.g. GET /contacts?limit=1000 -> 400"
        in found.reason
    )
    assert "/query/limit: 1000 is greater than the maximum of 200" in found.reason


def test_no_suspect_without_violations_or_for_the_contract_checks_themselves() -> None:
    assert suspect(REGISTRY["INT-01"], [log(request(1, 400), request(2, 503))]) is None
    refused = log(request(1, 400, violations=TOO_LARGE))
    for judge in ("CON-01", "CON-03", "AUTH-01", "SEC-01"):  # their finding is the refused request itself
        assert suspect(REGISTRY[judge], [refused]) is None, judge


def test_stored_records_judged_after_a_refused_sync_suspect_con_01() -> None:
    refused = log(request(1, 401, violations=TOO_LARGE))
    found = suspect(REGISTRY["CON-02"], [refused])
    assert found is not None and found.check == "CON-01"


def test_a_suspect_is_inconclusive_only_when_the_root_check_failed_too() -> None:
    blocked = {
        **check("INT-01", "failed"),
        "suspect": {"check": "CON-01", "reason": "the platform refused 4"},
    }
    out = {c["id"]: c for c in root_causes([check("CON-01", "failed"), blocked])}
    assert out["INT-01"]["status"] == "inconclusive" and out["INT-01"]["blocked_by"] == "CON-01"
    assert out["INT-01"]["message"] == "blocked by CON-01: the platform refused 4"
    assert out["INT-01"]["evidence"]["own_finding"] == "INT-01 went wrong"
    alone = {c["id"]: c for c in root_causes([check("CON-01", "passed"), blocked])}
    assert alone["INT-01"]["status"] == "failed" and "suspect" not in alone["INT-01"]


def test_a_certificate_with_inconclusive_checks_is_not_certified_and_fits_its_schema() -> None:
    import json

    from jsonschema import Draft202012Validator

    from harness.report.certificate import schema_path, statement
    from tests.unit.test_certificate import predicate

    blocked = {
        **check("INT-01", "failed"),
        "suspect": {"check": "CON-01", "reason": "the platform refused 4"},
    }
    made = predicate([check("CON-01", "failed"), blocked])
    assert made["verdict"] == "not certified" and made["summary"]["inconclusive"] == 1
    schema = json.loads(schema_path().read_text())
    assert list(Draft202012Validator(schema).iter_errors(statement(made))) == []


def test_handshakes_refused_for_want_of_a_client_certificate_make_a_failed_check_suspect_auth_01() -> None:
    found = suspect(REGISTRY["INT-01"], [log()], refused_handshakes=6)
    assert found is not None and found.check == "AUTH-01"
    assert "refused 6 of its TLS handshake(s) for want of a valid client certificate" in found.reason
    assert suspect(REGISTRY["AUTH-01"], [log()], refused_handshakes=6) is None  # the root itself
    assert suspect(REGISTRY["INT-01"], [log()], refused_handshakes=0) is None


class _Tenant:
    """A tenant whose log can be read until it is deleted, as the sandbox's can."""

    def __init__(self, entries: object) -> None:
        self.entries, self.deleted = entries, False

    def requests(self) -> object:
        if self.deleted:
            raise LookupError("-> 404")
        return self.entries

    def delete(self) -> None:
        self.deleted = True


def test_a_tenant_released_mid_check_keeps_its_log_for_the_root_cause() -> None:
    from harness.checks.context import CheckContext

    refused = log(request(1, 401, violations=TOO_LARGE))
    tenant = _Tenant(refused)
    ctx = CheckContext("RES-04", sandbox=None, contract=None, manifest=None, seed=1)  # type: ignore[arg-type]
    ctx.tenants.append(tenant)  # type: ignore[arg-type]
    ctx.release(tenant)  # type: ignore[arg-type]
    assert tenant.deleted and ctx.tenants == []
    assert ctx.released == [refused]
    found = suspect(REGISTRY["RES-04"], ctx.released)
    assert found is not None and found.check == "CON-01"
