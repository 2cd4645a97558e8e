"""OAuth2 client credentials and refresh tokens, bearer tokens, API keys and HTTP basic, as the
contract declares.

Refusals follow RFC 6749 (token endpoint) and RFC 6750 (resources). A credential sent where it
must not go, such as a token in the query string or an API key in a URL the contract does not put
it in, is refused and recorded as such. Refresh tokens rotate (OAuth 2.1 section 4.3.1): each
refresh answers a new one and spends the one presented; presenting a spent one again is refused,
recorded as `refresh_token_reused`, and revokes the grant's tokens.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response

from harness.contract import Contract, Operation
from harness.sandbox.problems import json_response, problem
from harness.sandbox.tenants import Client, Tenant

NO_STORE = {"Cache-Control": "no-store"}
CLIENT_CERT_HEADER = "x-harness-client-certificate"

# mutualTLS: the TLS front (harness.runtime.tls.MutualTLSFront, same process) verifies the
# client certificate and vouches for the loopback address of the connection it opens to the
# sandbox; the sandbox turns that into CLIENT_CERT_HEADER (any copy the client sent is dropped),
# so a credential header cannot be forged from outside.
_vouched: dict[tuple[str, int], str] = {}


def vouch(peer: tuple[str, int], client_id: str) -> None:
    """The connection from `peer` presented a client certificate issued to `client_id`."""
    _vouched[(peer[0], int(peer[1]))] = client_id


def forget(peer: tuple[str, int]) -> None:
    _vouched.pop((peer[0], int(peer[1])), None)


def vouched_header(headers: dict[str, str], peer: Any) -> None:
    """Drop any client-sent CLIENT_CERT_HEADER; set it when the front vouched for `peer`."""
    headers.pop(CLIENT_CERT_HEADER, None)
    if peer:
        client_id = _vouched.get((str(peer[0]), int(peer[1])))
        if client_id is not None:
            headers[CLIENT_CERT_HEADER] = client_id


QUERY_TOKEN_NAMES = ("access_token", "token", "bearer")


@dataclass
class Principal:
    """Who made a request and with what; recorded in the request log (no secrets)."""

    credential: str | None = None  # header | query | body | cookie
    scheme: str | None = None
    grant: str | None = None  # at the token endpoint: the grant_type asked for
    client_id: str | None = None
    token_id: str | None = None
    scopes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


def grant_types(contract: Contract) -> frozenset[str]:
    """The grant types the contract declares: client_credentials for a clientCredentials flow,
    refresh_token for an authorizationCode flow (the harness hands the connector a refresh token;
    the interactive authorize step is out of scope). A contract naming neither gets
    client_credentials, as before."""
    flows: set[str] = set()
    for scheme in contract.security_schemes.values():
        if isinstance(scheme, dict) and scheme.get("type") == "oauth2":
            flows.update(scheme.get("flows") or {})
    grants = set()
    if "clientCredentials" in flows:
        grants.add("client_credentials")
    if "authorizationCode" in flows:
        grants.add("refresh_token")
    return frozenset(grants or {"client_credentials"})


def issue_token(
    tenant: Tenant,
    form: dict[str, list[str]],
    headers: dict[str, str],
    grants: Collection[str] = ("client_credentials",),
    principal: Principal | None = None,
) -> Response:
    """POST to the token endpoint: the client credentials and refresh token grants the contract
    declares. `principal` (when given) records who asked for what, and why it was refused."""
    seen = principal if principal is not None else Principal()

    def refuse(status: int, error: str, description: str, recorded: str | None = None) -> Response:
        seen.error = recorded or error
        extra = {"WWW-Authenticate": 'Basic realm="sandbox"'} if status == 401 else {}
        return json_response(
            {"error": error, "error_description": description}, status, {**NO_STORE, **extra}
        )

    grant = _one(form, "grant_type")
    seen.grant = grant or "missing"
    if grant is None:
        return refuse(400, "invalid_request", "grant_type is required")
    # client_credentials stays accepted everywhere (vendor contracts that declare only an
    # authorization code flow are served that way too); AUTH-01 names a grant the contract lacks.
    if grant not in {*grants, "client_credentials"}:
        hint = (
            "; the authorization step is done: exchange the refresh_token you were given"
            if "refresh_token" in grants
            else ""
        )
        return refuse(
            400,
            "unsupported_grant_type",
            f"grant_type {grant!r} is not supported; use {' or '.join(sorted(grants))}{hint}",
        )
    client_id, secret = _one(form, "client_id"), _one(form, "client_secret")
    seen.credential = "body" if secret is not None else None
    basic = _basic(headers.get("authorization", ""))
    if basic:
        (client_id, secret), seen.credential = basic, "header"
    client = tenant.clients.get(client_id or "")
    if client is None or secret is None or not hmac.compare_digest(client.client_secret, secret):
        return refuse(401, "invalid_client", "unknown client or wrong secret")
    seen.client_id = client.client_id
    if client.revoked:
        return refuse(401, "invalid_client", "the client's credentials were revoked", "revoked_client")
    granted, refresh = client.scopes, None
    if grant == "refresh_token":
        presented = tenant.tokens.get(_one(form, "refresh_token") or "")
        if presented is None or presented.kind == "access" or presented.client_id != client.client_id:
            return refuse(400, "invalid_grant", "the refresh token is not one issued to this client")
        seen.token_id = presented.token_id
        if presented.revoked:
            return refuse(400, "invalid_grant", "the refresh token was revoked", "revoked_refresh_token")
        if presented.kind == "rotated":
            tenant.revoke_grant(client.client_id, f"refresh token {presented.token_id} reused")
            return refuse(
                400,
                "invalid_grant",
                "the refresh token was already used: each refresh answers a new refresh_token, "
                "use that one; every token of this grant is now revoked",
                "refresh_token_reused",
            )
        if presented.expired:
            return refuse(400, "invalid_grant", "the refresh token expired", "expired_refresh_token")
        granted = presented.scopes
        refresh = tenant.rotate(presented)
    requested = frozenset((_one(form, "scope") or "").split()) or granted
    if not requested <= granted:
        extra = ", ".join(sorted(requested - granted))
        return refuse(400, "invalid_scope", f"the client may not ask for {extra}")
    token = tenant.issue_token(client, requested)
    seen.scopes = sorted(requested)
    body = {
        "access_token": token.value,
        "token_type": "Bearer",
        "expires_in": tenant.token_ttl,
        "scope": " ".join(sorted(requested)),
    }
    if refresh is not None:
        body["refresh_token"] = refresh.value
    return json_response(body, 200, NO_STORE)


def authenticate(
    contract: Contract,
    tenant: Tenant,
    op: Operation,
    headers: dict[str, str],
    query: dict[str, list[str]],
    form: dict[str, list[str]] | None,
) -> tuple[Principal, Response | None]:
    """Check the request's credentials against the operation's security requirements."""
    principal = Principal()
    for name in QUERY_TOKEN_NAMES:
        if name in query and _looks_like_token(tenant, query[name]):
            principal.credential, principal.error = "query", "token_in_query"
            return principal, _bearer_refusal(
                401,
                "invalid_request",
                "access tokens are accepted only in the Authorization header, never in the query string",
            )
        if form and name in form and _looks_like_token(tenant, form[name]):
            principal.credential, principal.error = "body", "token_in_body"
            return principal, _bearer_refusal(
                401, "invalid_request", "access tokens are accepted only in the Authorization header"
            )
    declared = contract.query_credentials(op)
    for where, values in (("query", query), ("body", form or {})):
        shaped = tenant.formats.client_secret.regex()  # a cheap look first: the clients are in the store
        leaked = [
            n
            for n, v in values.items()
            if (where == "body" or n not in declared)  # a declared query key is misplaced in a body
            and v
            and shaped.search(v[-1])
            and _client_by_secret(tenant, v[-1])
        ]
        if leaked:
            principal.credential, principal.error = where, f"key_in_{where}"
            place = "the query string" if where == "query" else "the request body"
            return principal, problem(
                401,
                f"a credential was sent in {place} ({leaked[0]!r}); send it only where the "
                f"contract declares it",
            )
    if op.public:
        return principal, None
    last: Response | None = None
    for requirement in op.security:
        for scheme_name in requirement:
            scheme = contract.security_schemes.get(scheme_name, {})
            refusal = _check_scheme(scheme, tenant, op, headers, query, principal)
            if refusal is None:
                principal.scheme, principal.error = scheme_name, None
                return principal, None
            last = refusal
    return principal, last or _bearer_refusal(401, "invalid_token", "no accepted credentials")


def _check_scheme(
    scheme: dict[str, Any],
    tenant: Tenant,
    op: Operation,
    headers: dict[str, str],
    query: dict[str, list[str]],
    principal: Principal,
) -> Response | None:
    kind = scheme.get("type")
    if kind == "oauth2" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer"):
        return _check_bearer(tenant, op, headers, principal, oauth2=kind == "oauth2")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
        creds = _basic(headers.get("authorization", ""))
        client = tenant.clients.get(creds[0]) if creds else None
        if client and not client.revoked and _same(client.client_secret, creds[1]):  # type: ignore[index]
            principal.credential, principal.client_id = "header", client.client_id
            return None
        # SDKs that authenticate with one secret (Stripe) send it as the user with no password.
        by_secret = _client_by_secret(tenant, creds[0]) if creds else None
        if by_secret is not None:
            principal.credential, principal.client_id = "header", by_secret.client_id
            return None
        principal.error = "invalid_credentials"
        return problem(
            401,
            "missing or wrong HTTP basic credentials",
            headers={"WWW-Authenticate": 'Basic realm="sandbox"'},
        )
    if kind == "apiKey":
        where, name = scheme.get("in"), scheme.get("name", "")
        value = {
            "header": headers.get(name.lower()),
            "cookie": _cookie(headers, name),
            "query": (query.get(name) or [None])[-1],  # type: ignore[list-item]
        }.get(where)  # type: ignore[arg-type]
        client = _client_by_secret(tenant, value)
        if client is None and where == "header" and value:
            client = _client_by_secret(tenant, _unprefixed(value))
        if client is not None:
            principal.credential, principal.client_id = where, client.client_id
            return None
        principal.error = "invalid_api_key"
        return problem(
            401,
            f"missing or wrong API key in {where} {name!r}",
            headers={"WWW-Authenticate": f'ApiKey realm="sandbox", in="{where}", name="{name}"'},
        )
    if kind == "mutualTLS":
        client = tenant.clients.get(headers.get(CLIENT_CERT_HEADER, ""))
        if client is not None and not client.revoked:
            principal.credential, principal.client_id = "certificate", client.client_id
            return None
        principal.error = "missing_client_certificate"
        return problem(401, "this operation requires a TLS client certificate issued to the tenant")
    principal.error = "unsupported_scheme"
    return problem(
        401,
        f"the sandbox cannot check security scheme type {kind!r}",
        headers={"WWW-Authenticate": 'Bearer realm="sandbox"'},
    )


def _check_bearer(
    tenant: Tenant, op: Operation, headers: dict[str, str], principal: Principal, *, oauth2: bool = True
) -> Response | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        principal.error = "missing_token"
        return _bearer_refusal(401, None, "send Authorization: Bearer <token> from the token endpoint")
    token = tenant.tokens.get(value.strip())
    principal.credential = "header"
    static = _client_by_secret(tenant, value.strip()) if token is None and not oauth2 else None
    if static is not None:  # an HTTP bearer scheme with no token endpoint: the secret is the token
        principal.client_id = static.client_id
        return None
    if token is None or token.kind != "access":
        principal.error = "unknown_token"
        what = "a refresh token, not an access token" if token else "not one this platform issued"
        return _bearer_refusal(401, "invalid_token", f"the token is {what}")
    principal.client_id, principal.token_id, principal.scopes = (
        token.client_id,
        token.token_id,
        sorted(token.scopes),
    )
    client = tenant.clients.get(token.client_id)
    if token.revoked or (client is not None and client.revoked):
        principal.error = "revoked_token"
        return _bearer_refusal(401, "invalid_token", "the token was revoked")
    if token.expired:
        principal.error = "expired_token"
        return _bearer_refusal(
            401, "invalid_token", "the token expired; get a new one from the token endpoint"
        )
    missing = op.scopes - token.scopes
    if missing:
        principal.error = "insufficient_scope"
        needed = " ".join(sorted(op.scopes))
        return _bearer_refusal(403, "insufficient_scope", f"{op} needs scope {needed}", scope=needed)
    return None


def _bearer_refusal(status: int, error: str | None, description: str, scope: str | None = None) -> Response:
    parts = ['Bearer realm="sandbox"']
    if error:
        parts.append(f'error="{error}"')
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return problem(status, description, headers={"WWW-Authenticate": ", ".join(parts)})


def _looks_like_token(tenant: Tenant, values: list[str]) -> bool:
    return any(v in tenant.tokens or tenant.minter.is_token(v) for v in values)


def _client_by_secret(tenant: Tenant, value: str | None) -> Client | None:
    if not value:
        return None
    for client in tenant.clients.values():
        if not client.revoked and _same(client.client_secret, value):
            return client
    return None


def _same(secret: str, presented: str) -> bool:
    """Constant-time comparison that takes any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(secret.encode("utf-8"), presented.encode("utf-8", "surrogatepass"))


KEY_PREFIXES = ("bearer", "token", "key", "api-key", "apikey", "basic")


def _unprefixed(value: str) -> str:
    """An API key as SDKs really send it in a header: `Bearer <key>`, `Token <key>`, or bare."""
    prefix, sep, rest = value.strip().partition(" ")
    return rest.strip() if sep and prefix.lower().rstrip(":") in KEY_PREFIXES else value


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (unquote(user), unquote(password)) if sep else None


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None


def _one(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[-1] if values else None


def credentials(contract: Contract, client: Client) -> list[dict[str, str]]:
    """Which credential goes where, for each security scheme the contract declares."""
    out = []
    for name, scheme in contract.security_schemes.items():
        kind = str(scheme.get("type", ""))
        http = str(scheme.get("scheme", "")).lower()
        if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
            where, field, value = str(scheme["in"]), str(scheme.get("name", "")), client.client_secret
        elif kind == "http" and http == "basic":
            pair = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
            where, field, value = "header", "Authorization", f"Basic {pair}"
        elif kind == "http":
            where, field, value = "header", "Authorization", f"Bearer {client.client_secret}"
        elif kind in ("oauth2", "openIdConnect"):
            where, field, value = "header", "Authorization", "Bearer <access_token from token_url>"
        else:
            continue
        out.append({"scheme": name, "type": kind, "in": where, "name": field, "value": value})
    return out
