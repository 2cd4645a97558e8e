"""AUTH-01..04 judged from recorded evidence: each judgement passes a clean log and names each defect."""

from __future__ import annotations

from harness.checks.auth import (
    judge_bearer_on_api,
    judge_made_requests,
    judge_token_obtained,
    judge_token_placement,
)
from harness.checks.auth_expiry import judge_expiry_reached, judge_renewed_after_expiry
from harness.checks.auth_revoked import (
    MAX_ATTEMPTS_AFTER_REVOCATION,
    attempts_allowed,
    judge_stops_when_revoked,
)
from harness.checks.scopes import judge_scopes, needed_scopes
from tests.unit.checks.evidence import authed, hung, log, raised, request, token_request

SCOPES = {
    "listContacts": frozenset({"contacts:read"}),
    "listDeals": frozenset({"deals:read"}),
    "getAccount": frozenset({"account:read"}),
    "createContact": frozenset({"contacts:write"}),
    "getStatus": frozenset(),
}


def clean_log():
    return log(token_request(1), authed(2), authed(3))


# -- AUTH-01 ---------------------------------------------------------------------------------------


def test_no_request_at_all_is_named_with_the_run_error():
    assert judge_made_requests(clean_log(), None) is None
    finding = judge_made_requests(log(), raised("cannot connect"))
    assert finding is not None
    assert "made no request to the platform at all" in finding.message
    assert "cannot connect" in finding.details["run_error"]


def test_a_token_in_the_query_string_or_the_body_is_named_with_where_it_went():
    assert judge_token_placement(clean_log()) is None
    query = judge_token_placement(
        log(token_request(1), authed(2, 401, credential="query", error="token_in_query"))
    )
    assert query is not None
    assert "sent its access token in the query string of 1 request(s)" in query.message
    assert "Authorization: Bearer" in query.expected
    body = judge_token_placement(log(authed(2, 401, credential="body", error="token_in_body")))
    assert body is not None and "in the request body" in body.message


def test_an_api_key_the_contract_puts_in_the_query_is_not_misplaced():
    # fairness: on a query-key contract (NYT, inventory) the accepted key travels in the query
    assert judge_token_placement(log(authed(1, credential="query"))) is None


def test_a_connector_that_never_got_a_token_is_told_where_to_get_it():
    assert judge_token_obtained(clean_log(), "http://x/oauth/token") is None
    finding = judge_token_obtained(log(token_request(1, 401), request(2, 401)), "http://x/oauth/token")
    assert finding is not None
    assert "never obtained a token from the token endpoint" in finding.message
    assert finding.expected == (
        "POST http://x/oauth/token with grant_type=client_credentials with client_id and client_secret"
    )


def test_api_requests_without_a_bearer_token_fail():
    assert judge_bearer_on_api(clean_log()) is None
    before = judge_bearer_on_api(log(request(1, 401), token_request(2), authed(3)))
    assert before is not None
    assert "made 1 API request(s) without a bearer token, e.g. GET /contacts -> 401" in before.message
    missing = judge_bearer_on_api(log(token_request(1), request(2, 401, auth={"error": "missing_token"})))
    assert missing is not None and [r.seq for r in missing.requests] == [2]


def test_an_operation_the_contract_leaves_open_may_be_called_before_the_first_token():
    # fairness: `security: []` operations (a status endpoint) need no credential at all
    status = request(1, operation="getStatus", path="/status")
    assert judge_bearer_on_api(log(status, token_request(2), authed(3)), public={"getStatus"}) is None
    assert judge_bearer_on_api(log(status, token_request(2), authed(3))) is not None


# -- AUTH-03 ---------------------------------------------------------------------------------------


def expiry_log(*after):
    return log(token_request(1), authed(2), authed(3, 401, error="expired_token"), *after)


def test_expiry_that_was_never_reached_says_so():
    assert judge_expiry_reached(expiry_log(), {"contacts": 300}, None) is None
    finding = judge_expiry_reached(clean_log(), {"contacts": 300}, None)
    assert finding is not None
    assert "no request presented an expired token" in finding.message
    assert "contacts: 300 records" in finding.expected


def test_a_token_renewed_after_the_401_passes():
    assert judge_renewed_after_expiry(expiry_log(token_request(4), authed(5, token="tok_2")), None) is None


def test_no_renewal_after_an_expired_token_fails():
    finding = judge_renewed_after_expiry(expiry_log(authed(4, 401, error="expired_token")), None)
    assert finding is not None
    assert "never fetched a new token after the platform expired its token" in finding.message
    assert "1 successful token request(s) in all" in finding.message


def test_a_sync_that_failed_after_the_expiry_names_the_renewals_it_made():
    finding = judge_renewed_after_expiry(expiry_log(), raised("401 Unauthorized"))
    assert finding is not None
    assert "having made 0 token request(s) after that 401" in finding.message
    assert "401 Unauthorized" in finding.message


def test_a_token_renewed_ahead_of_the_expiry_passes():
    # fairness: the docs say to renew before expires_in runs out; a parallel stream that renewed
    # just before another stream's 401 leaves the connector holding a newer token already
    entries = log(
        token_request(1),
        authed(2),
        token_request(3),  # renewed ahead (or by another stream)
        authed(4, 401, error="expired_token"),  # a request still in flight with the old token
        authed(5, token="tok_2"),  # the retry, with the token it already holds
    )
    assert judge_renewed_after_expiry(entries, None) is None


# -- AUTH-04 ---------------------------------------------------------------------------------------


def revoked(n, operation="listContacts"):
    return [token_request(i, 401) if i % 2 else request(i, 401, operation=operation) for i in range(1, n + 1)]


def test_stopping_with_an_error_after_a_refusal_passes():
    assert (
        judge_stops_when_revoked(log(token_request(1, 401)), raised("401"), elapsed=0.1, timeout=10) is None
    )


def test_a_retry_storm_on_revoked_credentials_fails_with_the_tally():
    after = log(*[token_request(i, 401) for i in range(1, 12)])
    finding = judge_stops_when_revoked(after, hung(seconds=10), elapsed=10.0, timeout=10)
    assert finding is not None
    assert finding.message.startswith("kept retrying with revoked credentials: 11 request(s) in 10.0 s")
    assert "11 to the token endpoint, 0 API" in finding.message and "401 x11" in finding.message
    assert "it did not stop within 10 s" in finding.message
    assert finding.details["attempts"] == 11


def test_a_hang_and_a_reported_success_are_named():
    hang = judge_stops_when_revoked(log(token_request(1, 401)), hung(), elapsed=10, timeout=10)
    assert hang is not None and "hung after its credentials were revoked" in hang.message
    success = judge_stops_when_revoked(log(token_request(1, 401)), None, elapsed=0.2, timeout=10)
    assert (
        success is not None
        and "sync reported success although its credentials were revoked" in success.message
    )


def test_parallel_streams_may_each_try_once_and_renew_once():
    # fairness: three streams in flight each meet the 401 and each ask the token endpoint once
    streams = ("listContacts", "listCompanies", "listDeals")
    after = log(
        *[request(i, 401, operation=op) for i, op in enumerate(streams, 1)],
        *[token_request(i, 401) for i in range(4, 7)],
    )
    assert len(after) > MAX_ATTEMPTS_AFTER_REVOCATION
    assert attempts_allowed(after) == MAX_ATTEMPTS_AFTER_REVOCATION + 4
    assert judge_stops_when_revoked(after, raised("401"), elapsed=0.3, timeout=10) is None
    one_stream = log(*[request(i, 401) for i in range(1, 4)], *[token_request(i, 401) for i in range(4, 7)])
    assert judge_stops_when_revoked(one_stream, raised("401"), elapsed=0.3, timeout=10) is not None


# -- AUTH-02 ---------------------------------------------------------------------------------------


def test_scopes_that_match_the_operations_called_pass():
    entries = log(
        token_request(1), authed(2), authed(3, operation="listDeals", scopes=("contacts:read", "deals:read"))
    )
    assert needed_scopes(entries.api(), SCOPES) == {
        "contacts:read": {"listContacts"},
        "deals:read": {"listDeals"},
    }
    assert judge_scopes(entries, SCOPES, []) is None


def test_a_scope_it_never_used_is_named():
    entries = log(token_request(1), authed(2, scopes=("contacts:read", "contacts:write")))
    finding = judge_scopes(entries, SCOPES, [])
    assert finding is not None
    assert "asked for 1 scope(s) it never used: contacts:write" in finding.message
    assert "listContacts (contacts:read)" in finding.message
    assert finding.expected == "scope=contacts:read in the token request"


def test_a_missing_scope_is_named_with_the_refused_requests():
    entries = log(
        token_request(1), authed(2), authed(3, 403, operation="listDeals", error="insufficient_scope")
    )
    finding = judge_scopes(entries, SCOPES, ["sync: 403"])
    assert finding is not None
    assert (
        "its tokens lacked scope(s) deals:read needed by listDeals; 1 request(s) were refused with 403"
        in (finding.message)
    )


def test_no_issued_token_means_scopes_cannot_be_judged():
    finding = judge_scopes(log(request(1, 401)), SCOPES, [], run_error=raised("401"))
    assert finding is not None
    assert "no API request carried a token the platform had issued" in finding.message


def test_a_failed_call_is_reported_before_the_scopes_it_left_unused():
    # fairness (root cause first): a sync that died before reaching deals leaves deals:read unused
    entries = log(token_request(1), authed(2, scopes=("contacts:read", "deals:read")))
    finding = judge_scopes(entries, SCOPES, ["sync: sync(None) raised RuntimeError: timeout"])
    assert finding is not None
    assert finding.message.startswith("could not exercise every declared stream and push")
    assert "never used" not in finding.message


def test_a_scope_only_check_needs_counts_as_used():
    # fairness: AUTH-02 runs check() too; an operation only check() calls needs its scope
    entries = log(
        token_request(1),
        authed(2, operation="getAccount", path="/account", scopes=("account:read", "contacts:read")),
        authed(3, scopes=("account:read", "contacts:read")),
    )
    assert judge_scopes(entries, SCOPES, []) is None


def test_a_contract_without_a_token_endpoint_needs_no_token_request():
    # fairness: with a static API key or bearer secret there is no token endpoint to call
    from harness.core import RequestLog

    static = RequestLog([authed(1), authed(2)], token_operation=None)
    assert judge_token_obtained(static, None) is None
    assert judge_bearer_on_api(static) is None
    missing = RequestLog([request(1, 401, auth={"error": "missing_token"})], token_operation=None)
    assert judge_bearer_on_api(missing) is not None


def test_auth_04_gives_check_the_runs_call_timeout_and_only_the_revoked_sync_the_short_one():
    # fairness: a slow start (a command connector on a loaded machine) before revocation is no defect
    from types import SimpleNamespace

    from harness.checks.auth_revoked import REVOKED_CALL_TIMEOUT, stops_on_revoked_credentials

    timeouts: dict[str, float] = {}

    class Driver:
        def __init__(self, timeout: float) -> None:
            self.timeout = timeout

        def check(self) -> None:
            timeouts["check"] = self.timeout

        def sync(self, state: object) -> None:
            timeouts["sync"] = self.timeout
            raise raised("401 revoked")

        def close(self) -> None:
            pass

    tenant = SimpleNamespace(client_id="c", requests=lambda since=0: log(), revoke=lambda client: 1)
    findings: list = []
    ctx = SimpleNamespace(
        call_timeout=60.0,
        tenant=lambda **_: tenant,
        connector=lambda t, timeout=None: Driver(60.0 if timeout is None else timeout),
        require=findings.append,
    )
    stops_on_revoked_credentials(ctx)  # type: ignore[arg-type]
    assert timeouts == {"check": 60.0, "sync": REVOKED_CALL_TIMEOUT}
    assert findings == [None]
