"""The security schemes a contract declares, each with the exact place its credential goes
(shared by the AUTH checks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scheme:
    """One security scheme as a connector must use it: what it is and exactly where it goes."""

    name: str
    kind: str  # client_credentials | refresh_token | bearer | basic | api_key | mutual_tls
    label: str  # "OAuth2 client credentials", "API key", ...
    place: str  # "header X-API-Key", "Authorization: Bearer <access_token>", ...

    @property
    def oauth2(self) -> bool:
        return self.kind in ("client_credentials", "refresh_token")

    @property
    def credential(self) -> str:
        """What the connector holds for this scheme, as a message names it."""
        return CREDENTIAL_NAMES[self.kind]

    def phrase(self) -> str:
        return f"{self.label} ({self.name}) in {self.place}"


def declared_schemes(schemes: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> list[Scheme]:
    """The named security schemes of a contract, each with the place its credential goes."""
    out = []
    for name in dict.fromkeys(names):
        scheme = schemes.get(name) or {}
        kind, http = scheme.get("type"), str(scheme.get("scheme", "")).lower()
        if kind in ("oauth2", "openIdConnect"):
            flows = scheme.get("flows") or {}
            grants = [
                g
                for f, g in (
                    ("clientCredentials", "client_credentials"),
                    ("authorizationCode", "refresh_token"),
                )
                if f in flows
            ]
            for grant in grants or ["client_credentials"]:
                label = (
                    "OAuth2 client credentials" if grant == "client_credentials" else "OAuth2 refresh token"
                )
                out.append(
                    Scheme(
                        name, grant, label, "the Authorization header: Authorization: Bearer <access_token>"
                    )
                )
        elif kind == "http" and http == "basic":
            out.append(
                Scheme(
                    name,
                    "basic",
                    "HTTP basic",
                    "the Authorization header: Authorization: Basic base64(username:password)",
                )
            )
        elif kind == "http":
            out.append(
                Scheme(
                    name,
                    "bearer",
                    "static bearer token",
                    "the Authorization header: Authorization: Bearer <api_key>",
                )
            )
        elif kind == "mutualTLS":
            out.append(
                Scheme(
                    name,
                    "mutual_tls",
                    "TLS client certificate",
                    "the TLS handshake: client_cert and client_key",
                )
            )
        elif kind == "apiKey":
            out.append(Scheme(name, "api_key", "API key", f"{scheme.get('in')} {scheme.get('name')}"))
    return out


CREDENTIAL_NAMES = {
    "client_credentials": "client secret",
    "refresh_token": "client secret",
    "bearer": "static bearer token",
    "basic": "HTTP basic password",
    "api_key": "API key",
    "mutual_tls": "TLS client certificate",
}
GRANT_EXPECTED = {
    "client_credentials": "grant_type=client_credentials with client_id and client_secret",
    "refresh_token": "grant_type=refresh_token with the refresh_token from config (and the client)",
}
