"""The contract as objects: operations with their parameters, bodies, responses and scopes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

from referencing import Registry

from harness.contract.errors import ContractError, Problem
from harness.contract.pointer import join

if TYPE_CHECKING:
    from harness.contract.collections import Collection
    from harness.contract.routing import Router

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
IMPLICIT_SCHEME = "implicit_token"
IMPLICIT = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "the contract declares no security scheme, but documents 401 answers: the "
    "tenant's client secret in Authorization (bare or after `token`/`Bearer`)",
}


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema_ref: str | None  # absolute URI of the parameter's schema, for validators
    schema: dict[str, Any]
    style: str = ""  # OpenAPI `style`; empty: the location's default (form for query and cookie)
    explode: bool | None = None  # None: the style's default (true for form only)
    multi_segment: bool = False  # a path parameter whose value may hold `/` (GitHub's git refs)
    allow_empty: bool = False  # `allowEmptyValue`: a query parameter sent as `name=` is valid

    @property
    def serialized(self) -> tuple[str, bool]:
        """(style, explode) with the OpenAPI defaults filled in."""
        style = self.style or ("form" if self.location in ("query", "cookie") else "simple")
        return style, self.explode if self.explode is not None else style == "form"

    @property
    def key(self) -> tuple[str, str]:
        return (self.location, self.name.lower() if self.location == "header" else self.name)


@dataclass(frozen=True)
class Response:
    status: str  # "200", "4XX" or "default"
    media: dict[str, str | None]  # media type -> schema URI (None: any body)
    headers: dict[str, tuple[bool, str | None]]  # lower-cased name -> (required, schema URI)


@dataclass(frozen=True)
class Operation:
    """One method on one path (or one webhook), with everything needed to validate a call."""

    method: str  # upper case
    path: str  # the template, e.g. /v1/contacts/{id}
    operation_id: str
    pointer: str
    parameters: tuple[Parameter, ...]
    body_required: bool
    body_media: dict[str, str | None]
    responses: dict[str, Response]
    security: tuple[dict[str, tuple[str, ...]], ...]
    extensions: dict[str, Any] = field(default_factory=dict)
    webhook: bool = False

    @property
    def scopes(self) -> frozenset[str]:
        """The OAuth2 scopes this operation needs (from its first OAuth2 requirement)."""
        for requirement in self.security:
            for scopes in requirement.values():
                if scopes:
                    return frozenset(scopes)
        return frozenset()

    @property
    def public(self) -> bool:
        """True when the contract allows calling it with no credentials at all."""
        return not self.security or any(not req for req in self.security)

    def response_for(self, status: int) -> Response | None:
        exact = self.responses.get(str(status))
        return exact or self.responses.get(f"{str(status)[0]}XX") or self.responses.get("default")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Contract:
    """A loaded OpenAPI contract. Cheap to build; operations and collections are derived lazily."""

    file: str
    document: dict[str, Any]
    uri: str
    registry: Registry
    version: str

    @cached_property
    def resolver(self):
        return self.registry.resolver(base_uri=self.uri)

    @property
    def title(self) -> str:
        return str(self.document.get("info", {}).get("title", self.file))

    @cached_property
    def base_path(self) -> str:
        """The path of the first `servers` URL: the API is mounted there (`/api/2.0`, `/v3`).
        Server variables take their defaults (`https://api.example.com/{version}`, `{protocol}://...`)."""
        server = (self.document.get("servers") or [{"url": "/"}])[0]
        url = str(server.get("url", "/"))
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace(f"{{{name}}}", str((variable or {}).get("default", "")))
        return re.sub("/{2,}", "/", urlparse(url).path).rstrip("/")

    def at(self, *tokens: object) -> str:
        """The absolute URI of a place in this document, e.g. at("paths", "/v1/contacts")."""
        return f"{self.uri}#{join(*tokens)}"

    def deref(self, node: Any, uri: str) -> tuple[Any, str]:
        """Follow `$ref`s from the node found at `uri`; return the target and its own URI."""
        seen: set[str] = set()
        resolver = self.registry.resolver(base_uri=uri.split("#")[0])
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise ContractError(self.file, [Problem(_fragment(uri), f"$ref cycle through {ref!r}")])
            seen.add(ref)
            try:
                resolved = resolver.lookup(ref)
            except Exception as exc:  # referencing raises several kinds
                raise ContractError(
                    self.file,
                    [
                        Problem(
                            _fragment(uri),
                            f"$ref {ref!r} points nowhere: {exc}",
                            "define the target or correct the reference",
                        )
                    ],
                ) from None
            node, resolver = resolved.contents, resolved.resolver
            uri = urljoin(uri, ref)
        return node, uri

    @cached_property
    def operations(self) -> tuple[Operation, ...]:
        from harness.contract.operations import read_operations

        return tuple(read_operations(self))

    @cached_property
    def webhooks(self) -> tuple[Operation, ...]:
        from harness.contract.operations import read_webhooks

        return tuple(read_webhooks(self))

    def operation(self, operation_id: str) -> Operation:
        for op in (*self.operations, *self.webhooks):
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    @cached_property
    def router(self) -> Router:
        from harness.contract.routing import Router

        return Router(self.operations)

    @cached_property
    def collections(self) -> dict[str, Collection]:
        from harness.contract.collections import infer_collections

        return {c.name: c for c in infer_collections(self)}

    @cached_property
    def scopes(self) -> dict[str, str]:
        """Every OAuth2 scope the contract defines, with its description."""
        out: dict[str, str] = {}
        schemes = self.document.get("components", {}).get("securitySchemes", {})
        for scheme in schemes.values():
            for flow in (scheme.get("flows") or {}).values():
                out.update(flow.get("scopes") or {})
        return out

    @cached_property
    def security_schemes(self) -> dict[str, dict[str, Any]]:
        """The declared schemes; where none is declared but operations document a 401, the
        implicit token those operations require (`Authorization: token|Bearer <secret>`)."""
        declared = dict(self.document.get("components", {}).get("securitySchemes") or {})
        if declared or not any(IMPLICIT_SCHEME in req for op in self.operations for req in op.security):
            return declared
        return {IMPLICIT_SCHEME: dict(IMPLICIT)}

    @cached_property
    def token_url_path(self) -> str | None:
        """The OAuth2 token endpoint's path from the server's root, taken from the flows that
        have one (client credentials first, then authorization code, password). The sandbox
        serves it there whether or not it is one of the contract's paths, and on whatever host
        the contract names (Zoom's zoom.us/oauth/token for an API at api.zoom.us/v2)."""
        for flow_name in TOKEN_FLOWS:
            for scheme in self.security_schemes.values():
                flows = scheme.get("flows") if isinstance(scheme, dict) else None
                flow = flows.get(flow_name) if isinstance(flows, dict) else None
                url = (
                    flow.get("tokenUrl")
                    if isinstance(flow, dict) and scheme.get("type") == "oauth2"
                    else None
                )
                if isinstance(url, str) and url:
                    path = re.sub("/{2,}", "/", urlparse(url).path) or "/"
                    return path if path.startswith("/") else "/" + path
        return None

    @cached_property
    def token_path(self) -> str | None:
        """The token endpoint's path relative to the API base, where it is under the base;
        otherwise its path from the server's root (`token_url_path`)."""
        path, base = self.token_url_path, self.base_path
        if path is None:
            return None
        return path[len(base) :] if base and path.startswith(base + "/") else path

    @cached_property
    def token_operation(self) -> Operation | None:
        match = self.router.match("POST", self.token_path) if self.token_path else None
        return match.operation if match else None

    def query_credentials(self, op: Operation) -> set[str]:
        """Query parameters that carry an API key for this operation (declared by its schemes)."""
        names = set()
        for requirement in op.security:
            for scheme_name in requirement:
                scheme = self.security_schemes.get(scheme_name, {})
                if scheme.get("type") == "apiKey" and scheme.get("in") == "query":
                    names.add(scheme["name"])
        return names

    def schema_at(self, uri: str) -> dict[str, Any]:
        return self.resolver.lookup(uri).contents

    @cached_property
    def for_answers(self) -> Contract:
        """The contract as responses and records see it: `writeOnly` properties absent and not
        required (harness.contract.views)."""
        from harness.contract.views import view

        return view(self, "answer")

    @cached_property
    def for_requests(self) -> Contract:
        """The contract as requests see it: `readOnly` properties not required."""
        from harness.contract.views import view

        return view(self, "request")

    def validator(self, schema_uri: str):
        from harness.contract.schema import validator_for

        return validator_for(self, schema_uri)

    def pointer(self, *tokens: object) -> str:
        return join(*tokens)


TOKEN_FLOWS = ("clientCredentials", "authorizationCode", "password")


def _fragment(uri: str) -> str:
    return uri.partition("#")[2]
