"""Secrets checks: credentials never leak, and the connector talks to no one but the platform."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, Driver, RunError
from harness.checks.failures import NotApplicable
from harness.checks.registry import check
from harness.connectors import CommandConnector, ConnectorFailed, ConnectorTimeout, PythonConnector
from harness.runtime import TenantHandle

RECORDS = 30  # per stream: one page, the point is the paths a secret can travel, not volume
URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


@check("SEC-01", pillar="secrets", severity="critical", level="basic", timeout=90)
def no_secret_leaks(ctx: CheckContext) -> None:
    """No credential appears in its logs, records, checkpoints, errors, output or request URLs.

    The connector gets a client secret, a webhook signing secret and, from the token endpoint,
    access tokens. It runs `check()`, a full and an incremental sync, (Python connectors) a valid
    and a forged webhook delivery, and then, with its client revoked, a sync that fails. None of
    these secrets may appear in what it logs (`sink.log`, LOG lines), the records and checkpoints
    it stores, the text and traceback of its errors, a command connector's stderr, or the paths
    and query strings of its requests: all of these end up in log aggregators, tickets and
    screenshots. Tokens are recognized by the shape of the tokens
    the platform issues. Not observed: a Python connector's own prints and `logging` records.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="leaks")
    webhook_secret = _webhook_secret(ctx.seed_for("webhook-secret"))
    token_shape = _token_shape(ctx, tenant)
    replica = ctx.replica()
    connector = ctx.connector(tenant, replica, webhook_secret=webhook_secret)
    errors: list[tuple[str, RunError]] = []
    try:
        _attempt(errors, "check()", connector.check)
        _attempt(errors, "sync(None)", connector.sync, None)
        _attempt(errors, "sync(state)", connector.sync, replica.state)
        if ctx.manifest.webhooks and isinstance(connector, PythonConnector):
            _deliver_webhooks(ctx, tenant, connector, webhook_secret, errors)
        tenant.revoke(tenant.client_id)  # from here on every call fails: the error paths
        connector.timeout = min(connector.timeout, REVOKED_CALL_TIMEOUT)  # AUTH-04 judges retry storms
        _attempt(errors, "sync(state) after revocation", connector.sync, replica.state)
    finally:
        connector.close()

    places = _places(tenant, replica, connector, errors)
    secrets = {
        "the client secret": tenant.client_secret,
        "the webhook secret": webhook_secret,
        "the webhook signing key": webhook_secret.removeprefix("whsec_"),
    }
    leaks: dict[str, list[str]] = {}
    for what, value in secrets.items():
        found = [where for where, text in places if value in text]
        if found and not (what == "the webhook signing key" and "the webhook secret" in leaks):
            leaks[what] = found
    if token_shape is not None:
        found = [where for where, text in places if token_shape.search(text)]
        if found:
            leaks["an access token"] = found
    if leaks:
        raise ctx.fail(
            "; ".join(
                f"leaked {what} ({_masked(secrets.get(what))}) in {len(found)} place(s), e.g. "
                f"{', '.join(found[:3])}"
                for what, found in leaks.items()
            ),
            expected="credentials used only in the token request and the Authorization header, never "
            "logged, stored, printed or put in a URL (log that a token was issued, not the token)",
            places={what: found[:10] for what, found in leaks.items()},
        )


@check("SEC-02", pillar="secrets", severity="high", level="standard", timeout=90)
def no_egress(ctx: CheckContext) -> None:
    """Talks to no host but the platform: no telemetry, analytics or third-party calls.

    Customer data and credentials must go nowhere but the platform's API. While the connector
    runs a full sync, an incremental sync and a failing run (its client revoked), the embedded
    sandbox routes every httpx request made in the harness process: requests to the platform
    (and other loopback addresses) pass, any other is recorded and answered with a connection
    error, so nothing actually leaves. Only httpx traffic is observed: requests made with other
    clients (requests, urllib) are not seen, and a command connector runs in its own process, so
    for it this check is not applicable; neither is it on runtimes that cannot observe egress.
    """
    if ctx.manifest.python is None:
        raise NotApplicable(
            "a command connector runs in its own process; egress is recorded only for httpx "
            "requests made inside the harness process (embedded runtime), so its traffic cannot be seen"
        )
    if ctx.sandbox.egress() is None:
        raise NotApplicable(
            f"the {ctx.sandbox.kind} runtime cannot observe outbound traffic; egress is recorded "
            "by the embedded runtime (--sandbox=embedded), for httpx clients"
        )
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="egress")
    with ctx.sandbox.recording_egress():
        run = ctx.sync(tenant)
        incremental = ctx.sync(tenant, run.replica.state, check_first=False)
        tenant.revoke(tenant.client_id)
        ctx.call_timeout = min(ctx.call_timeout, REVOKED_CALL_TIMEOUT)  # AUTH-04 judges retry storms
        failing = ctx.sync(tenant, run.replica.state, check_first=False)
    egress = ctx.sandbox.egress() or []
    if egress:
        hosts = sorted({e["host"] for e in egress})
        first = egress[0]
        raise ctx.fail(
            f"sent {len(egress)} request(s) to host(s) other than the platform: {', '.join(hosts)} "
            f"(e.g. {first['method']} {first['url']}); every one was blocked",
            expected=f"requests only to the platform ({tenant.base_url.split('/t/')[0]})",
            egress=egress[:10],
            run_errors=[str(r.error) for r in (run, incremental, failing) if r.error is not None],
        )


@check("SEC-03", pillar="secrets", severity="high", level="standard", timeout=30)
def refuses_untrusted_tls(ctx: CheckContext) -> None:
    """Refuses a platform that presents an untrusted TLS certificate.

    A connector that turns certificate verification off (`verify=False`) hands its credentials
    and the customer's data to anyone who can intercept the connection. The check serves the
    sandbox over TLS with a self-signed certificate and requires the connector to refuse it.
    """
    if not ctx.sandbox.base_url.startswith("https://"):
        raise NotApplicable(
            f"the {ctx.sandbox.kind} runtime serves the sandbox over plain HTTP ({ctx.sandbox.base_url}) "
            "and cannot serve TLS, so there is no certificate for the connector to refuse"
        )
    raise NotApplicable(
        f"the {ctx.sandbox.kind} runtime serves TLS, but cannot serve an untrusted certificate on demand"
    )


# -- SEC-01 helpers ------------------------------------------------------------------------------


def _attempt(errors: list[tuple[str, RunError]], call: str, func: Callable[..., Any], *args: Any) -> None:
    try:
        func(*args)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        errors.append((call, exc))


def _webhook_secret(seed: int) -> str:
    """A Standard Webhooks secret, unique to the run: whsec_ + base64 of 24 seeded bytes."""
    key = random.Random(seed).randbytes(24)
    return "whsec_" + base64.b64encode(key).decode()


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
    if not isinstance(token, str) or not URLSAFE.fullmatch(token):
        return None
    prefix, sep, body = token.partition("_")
    if not (sep and prefix.isalpha() and len(prefix) <= 8):
        prefix, sep, body = "", "", token
    if len(body) < 20:  # too short to tell from an ordinary word
        return None
    edge = r"A-Za-z0-9_-"
    return re.compile(rf"(?<![{edge}]){re.escape(prefix + sep)}[{edge}]{{{len(body)}}}(?![{edge}])")


def _deliver_webhooks(
    ctx: CheckContext,
    tenant: TenantHandle,
    connector: PythonConnector,
    secret: str,
    errors: list[tuple[str, RunError]],
) -> None:
    """One correctly signed delivery and one forged one: both paths handle the signing secret."""
    event = ctx.manifest.webhooks[0]
    data: dict[str, Any] = {"id": "evt_sec01"}
    stream = next((s for s in ctx.manifest.streams if s.startswith(event.split(".")[0])), None)
    if stream is not None:
        records = tenant.records(stream)
        data = records[0] if records else data
    body = json.dumps({"type": event, "timestamp": _now_iso(), "data": data}).encode()
    stamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    for msg_id, signing_key in (("msg_sec01_valid", key), ("msg_sec01_forged", b"not-the-key")):
        signature = base64.b64encode(
            hmac.new(signing_key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        ).decode()
        headers = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": f"v1,{signature}"}
        _attempt(errors, f"handle_webhook({msg_id})", connector.handle_webhook, headers, body)


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _places(
    tenant: TenantHandle, replica: Any, connector: Driver, errors: list[tuple[str, RunError]]
) -> list[tuple[str, str]]:
    """Everything the connector produced that people or other systems get to read, by where."""
    out: list[tuple[str, str]] = []
    for i, entry in enumerate(replica.logs, 1):
        out.append((f"log #{i} ({entry.get('level')} {str(entry.get('message'))[:40]!r})", _text(entry)))
    for stream, rows in replica.rows.items():
        for record_id, record in rows.items():
            out.append((f"stored record {stream}/{record_id}", _text(record)))
    for i, state in enumerate(replica.checkpoints, 1):
        out.append((f"checkpoint #{i}", _text(state)))
    for call, exc in errors:
        out.append((f"the error of {call}", str(exc)))
        out.append((f"the traceback of {call}", getattr(exc, "traceback_text", "") or ""))
    if isinstance(connector, CommandConnector):
        for i, line in enumerate(connector.stderr, 1):
            out.append((f"stderr line {i}", line))
    for entry in tenant.requests():
        query = "&".join(f"{k}={v}" for k, vs in entry.get("query", {}).items() for v in vs)
        out.append(
            (
                f"the URL of request #{entry['seq']} ({entry['method']} {entry['path'][:60]})",
                f"{entry['path']}?{query}",
            )
        )
    return out


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _masked(value: str | None) -> str:
    return "recognized by the shape of the platform's tokens" if value is None else f"{value[:4]}****"
