"""What every check's connector let people read, kept for SEC-01 across the whole run.

A credential leaks on whatever path a connector takes: the 5xx a resilience check provokes, a
revoked token, a webhook storm. SEC-01's own scenario walks only some of those paths, so each
check's connectors are recorded as they run (the errors their calls raised, their sinks, their
stderr, the URLs they sent as sent) and scanned, when the check ends, for the credentials that
check gave them. SEC-01 runs after every other check and fails for any leak found anywhere.
Nothing here renders a secret: a leak is kept as what leaked and where, never the value.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import httpx

from harness.checks.leaks import TOKENISH, Places, find_leaks, token_shape
from harness.connectors import ConnectorFailed, ConnectorTimeout, Driver
from harness.contract import Contract
from harness.core import RequestLog
from harness.runtime import TenantHandle

if TYPE_CHECKING:
    from harness.checks.context import CheckContext

RunError = ConnectorFailed | ConnectorTimeout
# config keys that carry a credential the harness planted (harness.runtime TenantHandle.connector_config)
CREDENTIAL_KEYS = {
    "client_secret": "the client secret",
    "api_key": "the API key",
    "password": "the password",
    "refresh_token": "the refresh token",
    "webhook_secret": "the webhook secret",
}


class RecordedDriver:
    """A driver that remembers the error of every call it raised (the check still gets it)."""

    def __init__(self, inner: Driver, config: Mapping[str, Any], sink: Any) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "sink", sink)
        object.__setattr__(self, "errors", [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)

    def _call(self, label: str, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return func(*args)
        except (ConnectorFailed, ConnectorTimeout) as exc:
            self.errors.append((label, exc))
            raise

    def check(self) -> None:
        self._call("check()", self._inner.check)

    def sync(self, state: Any = None) -> None:
        self._call("sync()", self._inner.sync, state)

    def push(self, stream: str, records: list[dict[str, Any]]) -> Any:
        return self._call(f"push({stream})", self._inner.push, stream, records)

    def handle_webhook(self, headers: dict[str, str], body: bytes) -> int:
        return int(self._call("handle_webhook()", self._inner.handle_webhook, headers, body))


def credentials(configs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """what -> value for every credential handed to the connectors (values of 8+ characters);
    for mutualTLS, the contents of the client key (`client_key` is its path)."""
    out: dict[str, str] = {}
    for config in configs:
        found = [(what, config.get(key)) for key, what in CREDENTIAL_KEYS.items()]
        found.append(("the TLS client key", pem_body(config.get("client_key"))))
        for what, value in found:
            if isinstance(value, str) and len(value) >= 8 and value not in out.values():
                label = what if what not in out else f"{what} #{sum(k.startswith(what) for k in out) + 1}"
                out[label] = value
                if what == CREDENTIAL_KEYS["webhook_secret"] and value.startswith("whsec_"):
                    out[label.replace("secret", "signing key")] = value.removeprefix("whsec_")
    return out


def pem_body(path: Any) -> str | None:
    """The first line of base64 in a PEM file (what any copy of the key holds whole), or None."""
    if not isinstance(path, str):
        return None
    try:
        lines = Path(path).read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((line.strip() for line in lines if len(line.strip()) >= 40 and "-----" not in line), None)


def driver_places(
    sink: Any, diagnostics: Any, errors: Iterable[tuple[str, RunError]], text: Callable[[Any], str]
) -> Places:
    """Everything one connector produced that people or other systems get to read, by where."""
    out: Places = []
    for i, entry in enumerate(getattr(sink, "logs", ()) or (), 1):
        message = TOKENISH.sub("****", str(entry.get("message")))[:40]  # a label never quotes a secret
        out.append((f"log #{i} ({entry.get('level')} {message!r})", text(entry)))
    for stream, rows in (getattr(sink, "rows", None) or {}).items():
        for record_id, record in rows.items():
            out.append((f"stored record {stream}/{record_id}", text(record)))
    for i, state in enumerate(getattr(sink, "checkpoints", ()) or (), 1):
        out.append((f"checkpoint #{i}", text(state)))
    for call, exc in errors:
        out.append((f"the error of {call}", str(exc)))
        out.append((f"the traceback of {call}", exc.traceback_text))
    for i, line in enumerate(diagnostics.stderr if diagnostics is not None else (), 1):
        out.append((f"stderr line {i}", line))
    return out


def request_urls(log: RequestLog, contract: Contract | None = None) -> Places:
    """The path and query string of each request as the connector sent them (the raw query, not
    the sandbox's masked one): a credential in a URL is judged from the URL itself. A query
    parameter the contract puts an API key in (`in: query`) is where that key belongs: left out."""
    out: Places = []
    in_query = _query_credentials(contract)
    for e in log:
        raw = e.raw_query or e.query_string
        declared = in_query.get(e.operation or "")
        if declared:
            raw = "&".join(p for p in raw.split("&") if unquote_plus(p.partition("=")[0]) not in declared)
        decoded = unquote_plus(raw)
        sent = f"{e.path}?{raw}" + ("" if decoded == raw else f" ({decoded})")
        out.append((f"the URL of request #{e.seq} ({e.method} {e.path[:60]})", sent))
    return out


def _query_credentials(contract: Contract | None) -> dict[str, set[str]]:
    """operationId -> the query parameters its security schemes put an API key in."""
    if contract is None:
        return {}
    found = {op.operation_id: contract.query_credentials(op) for op in contract.operations}
    return {op: names for op, names in found.items() if names}


@dataclass
class Leak:
    check_id: str
    what: str  # "the client secret", "an access token"
    where: list[str]


@dataclass
class Exposures:
    """The run's ledger of leaks, filled as each check ends; SEC-01 reads it last."""

    leaks: list[Leak] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)  # the checks whose connectors were scanned
    problems: list[str] = field(default_factory=list)  # scans that could not read their evidence
    shape: Any = None  # the platform's token shape, learnt once (harness.checks.secrets.token_shape)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, check_id: str, found: Mapping[str, list[str]]) -> None:
        with self._lock:
            self.scanned.append(check_id)
            self.leaks += [Leak(check_id, what, list(where)) for what, where in found.items()]

    def elsewhere(self, check_id: str) -> list[Leak]:
        with self._lock:
            return [leak for leak in self.leaks if leak.check_id != check_id]


def scan_check(ctx: CheckContext) -> dict[str, list[str]]:
    """What -> where for every credential a check handed its connectors that they let out (in
    their errors, logs, sinks, stderr and raw request URLs): what SEC-01 judges after the run."""
    recorded = list(ctx.recorded)
    if not recorded:
        return {}
    secrets = credentials(r.config for r in recorded)
    outputs: Places = []
    for r in recorded:
        outputs += driver_places(r.sink, r.diagnostics(), r.errors, _text)
    logs = [t.requests() for t in ctx.tenants]
    for log in logs:
        outputs += request_urls(log, ctx.contract)
    exposures = ctx.exposures
    if exposures is not None and exposures.shape is None:
        for tenant in ctx.tenants:  # the first whose client still gets a token (a check may revoke it)
            exposures.shape = _token_shape(ctx, tenant)
            if exposures.shape is not None:
                break
    shape = exposures.shape if exposures is not None else None
    found = find_leaks(outputs, secrets, shape)
    if "an access token" in found:
        served: list[str] = []
        for tenant, log in zip(ctx.tenants, logs, strict=True):
            served += served_text(tenant, ctx.manifest.streams, log)
        found = find_leaks(outputs, secrets, shape, served)
    return found


def _token_shape(ctx: CheckContext, tenant: TenantHandle) -> re.Pattern[str] | None:
    """A pattern matching the access tokens this platform issues, learnt from one we fetch.

    The sandbox masks tokens wherever it shows them, so the connector's own tokens are unknown;
    their shape (a prefix such as `at_` and a length) is not. None when there is no token endpoint
    or its token has no recognizable shape.
    """
    if not tenant.token_url:
        return None
    try:
        response = httpx.post(
            tenant.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": tenant.client_id,
                "client_secret": tenant.client_secret,
                "scope": " ".join(ctx.manifest.scopes),
            },
            timeout=10,
        )
        token = response.json().get("access_token")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return token_shape(token)


def served_text(tenant: TenantHandle, streams: Iterable[str], log: RequestLog) -> list[str]:
    """Text the platform served or was sent back unmasked, so no token: the records (as JSON) and
    every query value of the request log (cursors, ids)."""
    records = [_text(record) for stream in streams for record in tenant.records(stream)]
    return records + [v for e in log for vs in e.query.values() for v in vs]


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
