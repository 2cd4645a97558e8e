"""`harness init`: a connector scaffold for a contract, generated from what harness.contract infers.

The templates (package data, templates/*.tmpl) hold a connector that passes the basic level as
generated; the contract fills in its streams (list path, paging, id pattern), the change feed,
the scopes those need and how it authenticates (the security scheme its list operations
declare: OAuth2 client credentials or refresh token, static bearer, HTTP basic, an API key in
its header, query parameter or cookie, or a TLS client certificate for OpenAPI 3.1 `mutualTLS`),
so the scaffold fits the vendor's API, not only the bundled one.
"""

from __future__ import annotations

import json
import pprint
import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from harness import __version__
from harness.contract import Contract, ContractError, default_contract_path, load
from harness.contract.collections import find_feed
from harness.core.errors import HarnessError


class ScaffoldError(HarnessError, ValueError):
    """What stops a scaffold, with the fix."""


def scaffold(
    target: Path, *, kind: str = "python", contract: str | None = None, name: str | None = None
) -> list[Path]:
    """Write a connector for `contract` into `target` (absent or empty); returns the files written."""
    if kind not in ("python", "command"):
        raise ScaffoldError(f"kind {kind!r}: use python or command")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} exists and is not an empty folder; pick a new DIR")
    contract_path = Path(contract) if contract else default_contract_path()
    try:
        platform = load(contract_path)
    except ContractError as exc:
        raise ScaffoldError(str(exc)) from None
    name = name or re.sub(r"[^a-z0-9-]+", "-", target.resolve().name.lower()).strip("-") or "my-connector"
    module = re.sub(r"\W", "_", name.replace("-", "_"))
    if not module.isidentifier():
        module = f"connector_{module}"
    streams, feed, scopes = _streams(platform), _feed(platform), _scopes(platform)
    auth = _auth(platform, contract_path)
    if not streams and platform.collections:
        styles = sorted({f"{n} ({c.pagination.style})" for n, c in platform.collections.items()})
        raise ScaffoldError(
            f"{contract_path}: the scaffold pages by cursor, offset or page number, and no collection "
            f"pages one of those ways: {', '.join(styles)}; write the connector by hand from "
            "docs/connector-protocol.md"
        )
    if not streams:
        raise ScaffoldError(
            f"{contract_path}: the contract has no collection (a list path /things with an item path "
            f"/things/{{id}}) to sync; `harness contract lint {contract_path}` says which hint closes the gap"
        )
    values = {
        "name": name,
        "module": module,
        "title": platform.title,
        "streams": pprint.pformat(streams, indent=4, width=100, sort_dicts=False),
        "feed": pprint.pformat(feed, indent=4, width=100, sort_dicts=False),
        "version": __version__,
        "first_stream": next(iter(streams)),
        "auth": pprint.pformat(auth, indent=4, width=100, sort_dicts=False),
        "auth_label": AUTH_LABELS[auth["kind"]],
    }
    entry = f'python = "{module}:Connector"' if kind == "python" else 'command = ["python", "cli.py"]'
    manifest = _render(
        "connector.toml.tmpl",
        values,
        entry=entry,
        scopes=json.dumps(scopes),
        streams=json.dumps(list(streams)),
    )
    if contract:
        manifest += f"\n# certified against {contract_path}: pass --contract={contract_path.resolve()}\n"
    files = {
        "connector.toml": manifest,
        f"{module}.py": _render("connector.py.tmpl", values),
        ".github/workflows/certify.yml": _render("certify.yml.tmpl", values),
    }
    if kind == "command":
        files["cli.py"] = _render("cli.py.tmpl", values)
    written = []
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _render(template: str, values: dict[str, Any], **more: Any) -> str:
    text = resources.files(__package__).joinpath("templates", template).read_text(encoding="utf-8")
    return Template(text).substitute(values, **more)


PAGED = ("cursor", "offset", "page")  # the paging styles the scaffold's `_pages` speaks


def _paging(pagination: Any) -> dict[str, Any]:
    return {
        "style": pagination.style,
        "limit_param": pagination.limit_param,
        "max_limit": pagination.max_limit,
        "cursor_param": pagination.cursor_param,
        "next_field": pagination.next_field,
        "offset_param": pagination.offset_param,
        "page_param": pagination.page_param,
    }


def _streams(platform: Contract) -> dict[str, dict[str, Any]]:
    """Every top-level collection paged by cursor, offset or page number: where to list it and
    how to tell its ids apart (nested ones need their parents' ids: written by hand)."""
    out: dict[str, dict[str, Any]] = {}
    for name, col in platform.collections.items():
        if col.pagination.style not in PAGED or col.nested:
            continue
        out[name] = {
            "path": col.list_op.path,
            "data_field": col.data_field,
            **_paging(col.pagination),
            "since_param": col.since_param,
            "id_pattern": col.id_schema.get("pattern"),
        }
    return out


def _feed(platform: Contract) -> dict[str, Any] | None:
    op = find_feed(platform)
    if op is None:
        return None
    params = {p.name for p in op.parameters}
    return {
        "path": op.path,
        "data_field": "data",
        "limit_param": "limit" if "limit" in params else None,
        "max_limit": next((p.schema.get("maximum") for p in op.parameters if p.name == "limit"), None),
        "cursor_param": "cursor" if "cursor" in params else None,
        "next_field": "next_cursor",
        "style": "cursor",
        "offset_param": None,
        "page_param": None,
    }


AUTH_LABELS = {
    "client_credentials": "gets an OAuth2 client-credentials token",
    "refresh_token": "exchanges its (rotating) OAuth2 refresh token for access tokens",
    "bearer": "sends its static bearer token as `Authorization: Bearer`",
    "basic": "sends its username and password as HTTP basic",
    "api_key": "sends its API key where the contract declares it",
    "mutual_tls": "presents its TLS client certificate (`client_cert`, `client_key`) on every connection",
    "none": "calls the API with no credentials (the contract declares none)",
}


def _auth(platform: Contract, path: Path) -> dict[str, Any]:
    """How the scaffold authenticates: the first security scheme its list operations declare,
    {kind, scheme, in, name}; a scheme it cannot speak is a ScaffoldError naming it."""
    ops = [c.list_op for c in platform.collections.values() if c.pagination.style in PAGED and not c.nested]
    names = [name for op in ops for requirement in op.security[:1] for name in requirement]
    if not names:
        return {"kind": "none", "scheme": None, "in": None, "name": None}
    name = names[0]
    scheme = platform.security_schemes.get(name) or {}
    kind, http = scheme.get("type"), str(scheme.get("scheme", "")).lower()
    out: dict[str, Any] = {"scheme": name, "in": "header", "name": "Authorization"}
    if kind in ("oauth2", "openIdConnect"):
        flows = scheme.get("flows") or {}
        grant = "refresh_token" if "authorizationCode" in flows and "clientCredentials" not in flows else None
        return {"kind": grant or "client_credentials", **out}
    if kind == "http" and http == "basic":
        return {"kind": "basic", **out}
    if kind == "http" and http == "bearer":
        return {"kind": "bearer", **out}
    if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
        return {"kind": "api_key", "scheme": name, "in": scheme["in"], "name": str(scheme.get("name", ""))}
    if kind == "mutualTLS":  # the credential is the TLS handshake's, nothing in the request
        return {"kind": "mutual_tls", "scheme": name, "in": None, "name": None}
    raise ScaffoldError(
        f"{path}: components.securitySchemes.{name} (type {kind!r}"
        + (f", scheme {http!r}" if http else "")
        + ") is not one the scaffold speaks (OAuth2, http bearer or basic, apiKey in header, query "
        "or cookie, mutualTLS); write the connector's auth by hand from docs/connector-protocol.md"
    )


def _scopes(platform: Contract) -> list[str]:
    """The read scopes its operations need: the list operations and the feed (least privilege)."""
    ops = [
        col.list_op
        for col in platform.collections.values()
        if col.pagination.style in PAGED and not col.nested
    ]
    feed = find_feed(platform)
    if feed is not None:
        ops.append(feed)
    scopes: list[str] = []
    for op in ops:
        for requirement in op.security[:1]:
            for scope in (s for names in requirement.values() for s in names):
                if scope not in scopes:
                    scopes.append(scope)
    return scopes
