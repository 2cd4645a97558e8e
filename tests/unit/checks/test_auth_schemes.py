"""AUTH-01 by scheme and AUTH-03's refresh rotation, judged from recorded evidence."""

from __future__ import annotations

from harness.checks.auth import (
    declared_schemes,
    judge_credentials_on_api,
    judge_grant_declared,
    judge_token_obtained,
    judge_token_placement,
)
from harness.checks.auth_expiry import judge_refresh_not_reused
from tests.unit.checks.evidence import authed, log, request, token_request

SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "basic": {"type": "http", "scheme": "basic"},
    "bearer": {"type": "http", "scheme": "bearer"},
    "oauth2": {"type": "oauth2", "flows": {"authorizationCode": {"tokenUrl": "/oauth/v1/token"}}},
}


def test_each_scheme_says_exactly_where_its_credential_goes():
    by_name = {s.name: s for s in declared_schemes(SCHEMES, SCHEMES)}
    assert by_name["apiKey"].phrase() == "API key (apiKey) in header X-API-Key"
    assert "Authorization: Basic base64(username:password)" in by_name["basic"].place
    assert by_name["bearer"].label == "static bearer token"
    assert by_name["oauth2"].kind == "refresh_token" and by_name["oauth2"].oauth2


def test_an_api_key_in_the_query_of_a_header_key_contract_names_the_declared_place():
    schemes = declared_schemes(SCHEMES, ["apiKey"])
    keyed = request(1, auth={"credential": "header", "scheme": "apiKey"})
    assert judge_token_placement(log(keyed), schemes) is None
    leaked = request(
        1, 401, query={"api_key": ["***"]}, auth={"credential": "query", "error": "key_in_query"}
    )
    finding = judge_token_placement(log(leaked), schemes)
    assert finding is not None
    assert "sent its API key in the query string of 1 request(s)" in finding.message
    assert "header X-API-Key" in finding.expected


def test_a_misplaced_static_credential_is_named_by_its_scheme():
    """A bearer secret or a basic password in a query or body: the message says which one."""
    query = request(
        1, 401, query={"password": ["***"]}, auth={"credential": "query", "error": "key_in_query"}
    )
    body = request(1, 401, auth={"credential": "body", "error": "key_in_body"})
    cases = [
        ("bearer", query, "sent its static bearer token in the query string", "Authorization: Bearer"),
        ("basic", query, "sent its HTTP basic password in the query string", "Authorization: Basic"),
        ("apiKey", body, "sent its API key in the request body", "header X-API-Key"),
        ("basic", body, "sent its HTTP basic password in the request body", "Authorization: Basic"),
    ]
    for name, leaked, words, place in cases:
        finding = judge_token_placement(log(leaked), declared_schemes(SCHEMES, [name]))
        assert finding is not None and words in finding.message, (name, finding)
        assert "where the contract does not put it" in finding.message and place in finding.expected
    both = judge_token_placement(log(query), declared_schemes(SCHEMES, ["basic", "apiKey"]))
    assert both is not None and "sent its credential in the query string" in both.message


def test_a_static_key_contract_needs_no_token_and_never_says_post_none():
    schemes = declared_schemes(SCHEMES, ["apiKey"])
    assert judge_token_obtained(log(request(1)), None, schemes) is None
    assert judge_token_obtained(log(request(1)), "http://x/token", schemes) is None


def test_an_authorization_code_connector_that_never_refreshed_is_told_the_grant():
    schemes = declared_schemes(SCHEMES, ["oauth2"])
    refused = token_request(1, 400, auth={"grant": "client_credentials", "error": "unsupported_grant_type"})
    finding = judge_token_obtained(log(refused), "http://x/oauth/v1/token", schemes)
    assert finding is not None
    assert "asked with grant_type client_credentials, refused" in finding.message
    assert "grant_type=refresh_token with the refresh_token from config" in finding.expected
    ok = token_request(2, auth={"grant": "refresh_token"})
    assert judge_token_obtained(log(refused, ok), "http://x/oauth/v1/token", schemes) is None


def test_requests_without_the_declared_credential_name_the_scheme_and_place():
    schemes = declared_schemes(SCHEMES, ["basic"])
    assert judge_credentials_on_api(log(request(1, auth={"scheme": "basic"})), schemes) is None
    finding = judge_credentials_on_api(log(request(1, 401, auth={"error": "invalid_credentials"})), schemes)
    assert finding is not None
    assert "(invalid_credentials)" in finding.message
    assert "HTTP basic (basic) in the Authorization header" in finding.expected


def test_a_reused_rotated_refresh_token_is_named():
    fine = log(
        token_request(1, auth={"grant": "refresh_token"}),
        authed(2),
        token_request(3, auth={"grant": "refresh_token"}),
    )
    assert judge_refresh_not_reused(fine) is None
    reused = token_request(
        4, 400, auth={"grant": "refresh_token", "error": "refresh_token_reused", "token_id": "rt_abc"}
    )
    finding = judge_refresh_not_reused(log(*fine, reused))
    assert finding is not None
    assert "presented a refresh token that was already used (rt_abc)" in finding.message
    assert "keep the refresh_token of each token response" in finding.expected


def test_client_credentials_on_an_authorization_code_contract_is_named():
    schemes = declared_schemes(SCHEMES, ["oauth2"])
    assert judge_grant_declared(log(token_request(1, auth={"grant": "refresh_token"})), schemes) is None
    finding = judge_grant_declared(log(token_request(1, auth={"grant": "client_credentials"})), schemes)
    assert finding is not None
    assert "grant_type=client_credentials in 1 request(s)" in finding.message
    assert "grant_type=refresh_token" in finding.expected
    static = declared_schemes(SCHEMES, ["apiKey"])
    assert judge_grant_declared(log(token_request(1, auth={"grant": "client_credentials"})), static) is None


# -- mutualTLS (OpenAPI 3.1): the credential is the TLS client certificate ----------------------

MTLS = {"clientCertificate": {"type": "mutualTLS"}}


def _mtls_request(seq: int, status: int = 200, **fields: object):
    from tests.unit.checks.evidence import request

    auth = {"credential": "certificate", "scheme": "clientCertificate"} if status == 200 else {}
    return request(seq, status, auth={**auth, **fields.pop("auth", {})}, **fields)  # type: ignore[arg-type]


def test_mutual_tls_is_a_declared_scheme_placed_in_the_handshake():
    from harness.checks.auth_schemes import declared_schemes

    (scheme,) = declared_schemes(MTLS, ["clientCertificate"])
    assert scheme.kind == "mutual_tls" and "TLS handshake" in scheme.place


def test_mutual_tls_verified_connections_pass():
    from harness.checks.auth import judge_client_certificate
    from harness.checks.auth_schemes import declared_schemes
    from tests.unit.checks.evidence import log

    schemes = declared_schemes(MTLS, ["clientCertificate"])
    assert judge_client_certificate(2, 0, log(_mtls_request(1), _mtls_request(2)), schemes) is None


def test_mutual_tls_a_refused_handshake_is_named():
    from harness.checks.auth import judge_client_certificate
    from harness.checks.auth_schemes import declared_schemes
    from tests.unit.checks.evidence import log

    finding = judge_client_certificate(0, 3, log(), declared_schemes(MTLS, ["clientCertificate"]))
    assert finding is not None and "without a valid TLS client certificate" in finding.message
    assert "3 handshake(s) refused" in finding.message and "client_cert" in finding.expected


def test_mutual_tls_an_undeclared_authorization_header_is_named():
    from harness.checks.auth import judge_client_certificate
    from harness.checks.auth_schemes import declared_schemes
    from tests.unit.checks.evidence import log

    sent = _mtls_request(1, headers={"authorization": "Bearer ***"})
    finding = judge_client_certificate(1, 0, log(sent), declared_schemes(MTLS, ["clientCertificate"]))
    assert finding is not None and "Authorization header the contract does not declare" in finding.message


def test_non_mutual_tls_contracts_are_not_judged_on_certificates():
    from harness.checks.auth import judge_client_certificate
    from harness.checks.auth_schemes import declared_schemes
    from tests.unit.checks.evidence import log

    basic = declared_schemes({"b": {"type": "http", "scheme": "basic"}}, ["b"])
    assert judge_client_certificate(0, 5, log(), basic) is None
