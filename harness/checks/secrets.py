"""Secrets checks: credentials never leak, and the connector talks to no one but the platform."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, Driver, RunError
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.contract.events import event_body, event_schema
from harness.contract.signing import signing_for
from harness.core import RequestLog
from harness.core.signing import Signing, shared_secret
from harness.runtime import TenantHandle

RECORDS = 30  # per stream: one page, the point is the paths a secret can travel, not volume
URLSAFE = re.compile(r"[A-Za-z0-9_-]+")
Places = list[tuple[str, str]]  # (where, text) of everything the connector produced


@check("SEC-01", pillar="secrets", severity="critical", level="basic", timeout=90)
def no_secret_leaks(ctx: CheckContext) -> None:
    """No credential appears in its logs, records, checkpoints, errors, output or request URLs.

    The connector gets a client secret, a webhook signing secret and, from the token endpoint,
    access tokens. It runs `check()`, a full and an incremental sync, a valid and a forged
    webhook delivery (when it declares webhooks), and then, with its client revoked, a sync that
    fails. None of these secrets may appear in what it logs (`sink.log`, LOG lines), the records
    and checkpoints it stores, the text and traceback of its errors, its stderr (a Python
    connector's prints and `logging` records included), or the paths and query strings of its
    requests: all of these end up in log aggregators, tickets and screenshots. Tokens are
    recognized by the shape of the tokens the platform issues (text the platform served, such as
    a record's value or a cursor the connector sends back, is never taken for one).
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="leaks")
    schemes = [signing_for(ctx.contract, name) for name in ctx.manifest.webhooks]
    webhook_secret = _webhook_secret(ctx.seed_for("webhook-secret"), schemes)
    shape = _token_shape(ctx, tenant)
    replica = ctx.replica()
    connector = ctx.connector(tenant, replica, webhook_secret=webhook_secret)
    errors: list[tuple[str, RunError]] = []
    try:
        _attempt(errors, "check()", connector.check)
        _attempt(errors, "sync(None)", connector.sync, None)
        _attempt(errors, "sync(state)", connector.sync, replica.state)
        if ctx.manifest.webhooks:
            _deliver_webhooks(ctx, tenant, connector, webhook_secret, errors)
        tenant.revoke(tenant.client_id)  # from here on every call fails: the error paths
        connector.timeout = min(connector.timeout, REVOKED_CALL_TIMEOUT)  # AUTH-04 judges retry storms
        _attempt(errors, "sync(state) after revocation", connector.sync, replica.state)
    finally:
        connector.close()

    secrets = {
        "the client secret": tenant.client_secret,
        "the webhook secret": webhook_secret,
        "the webhook signing key": webhook_secret.removeprefix("whsec_"),
    }
    log = tenant.requests()
    outputs = _places(replica, connector, errors) + request_urls(log)
    ctx.require(judge_no_leaks(outputs, secrets, shape, served_text(tenant, ctx.manifest.streams, log)))


def judge_no_leaks(
    outputs: Places,
    secrets: Mapping[str, str],
    shape: re.Pattern[str] | None,
    served: Iterable[str] = (),
) -> Finding | None:
    """No secret (what -> value) in any output (where, text); no text shaped like the platform's
    tokens either, unless it is text the platform itself served (`served`: a record's value, a
    cursor sent back in a URL), which a token never is: the sandbox masks tokens wherever it logs."""
    leaks: dict[str, list[str]] = {}
    for what, value in secrets.items():
        where = [w for w, text in outputs if value in text]
        if where and not (what == "the webhook signing key" and "the webhook secret" in leaks):
            leaks[what] = where
    if shape is not None:
        known = {m for text in served for m in shape.findall(text)}
        where = [w for w, text in outputs if any(m not in known for m in shape.findall(text))]
        if where:
            leaks["an access token"] = where
    if not leaks:
        return None
    return Finding.of(
        "; ".join(
            f"leaked {what} ({_masked(secrets.get(what))}) in {len(where)} place(s), "
            f"e.g. {', '.join(where[:3])}"
            for what, where in leaks.items()
        ),
        expected="credentials used only in the token request and the Authorization header, never "
        "logged, stored, printed or put in a URL (log that a token was issued, not the token)",
        places={what: where[:10] for what, where in leaks.items()},
    )


@check("SEC-02", pillar="secrets", severity="high", level="standard", timeout=90)
def no_egress(ctx: CheckContext) -> None:
    """Talks to no host but the platform: no telemetry, analytics or third-party calls.

    Customer data and credentials must go nowhere but the platform's API. The connector runs
    `check()`, a full sync, an incremental sync and a failing run (its client revoked). A Python
    connector's worker process refuses every connection (and name lookup) to a host other than
    the platform's and loopback, whatever HTTP client makes it, and reports it: nothing actually
    leaves. A command connector's process makes its own connections, which the harness cannot
    see: for it this check is not applicable.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="egress")
    replica = ctx.replica()
    connector = ctx.connector(tenant, replica)
    errors: list[tuple[str, RunError]] = []
    try:
        if not connector.capabilities.observes_egress:
            raise NotApplicable(
                "this connector runs as its own command, whose outbound connections the harness "
                "cannot observe (only a Python connector's worker reports them)"
            )
        _attempt(errors, "check()", connector.check)
        _attempt(errors, "sync(None)", connector.sync, None)
        _attempt(errors, "sync(state)", connector.sync, replica.state)
        tenant.revoke(tenant.client_id)
        connector.timeout = min(connector.timeout, REVOKED_CALL_TIMEOUT)  # AUTH-04 judges retry storms
        _attempt(errors, "sync(state) after revocation", connector.sync, replica.state)
        egress = connector.egress() or []
    finally:
        connector.close()
    platform = tenant.base_url.split("/t/")[0]
    ctx.require(judge_no_egress(egress, [f"{call}: {exc}" for call, exc in errors], platform))


def judge_no_egress(egress: list[dict[str, Any]], run_errors: list[str], platform: str) -> Finding | None:
    """`egress` is the worker's report of refused connections (host, port) to anything but the platform."""
    if not egress:
        return None
    hosts = sorted({str(e["host"]) for e in egress})
    first = egress[0]
    return Finding.of(
        f"made {len(egress)} connection attempt(s) to host(s) other than the platform: "
        f"{', '.join(hosts)} (e.g. {first['host']} port {first['port']}); every one was refused",
        expected=f"connections only to the platform ({platform})",
        egress=egress[:10],
        run_errors=run_errors,
    )


# -- SEC-01 helpers ------------------------------------------------------------------------------


def _attempt(errors: list[tuple[str, RunError]], call: str, func: Callable[..., Any], *args: Any) -> None:
    try:
        func(*args)
    except (ConnectorFailed, ConnectorTimeout) as exc:
        errors.append((call, exc))


def _webhook_secret(seed: int, schemes: Iterable[Signing] = ()) -> str:
    """A webhook secret unique to the run, in the shape the contract's signing schemes hand out
    (Standard Webhooks, the default: whsec_ + base64 of 24 seeded bytes)."""
    return shared_secret(schemes, random.Random(seed))


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


def token_shape(token: Any) -> re.Pattern[str] | None:
    """A pattern for tokens shaped like this one: its prefix (`at_`), if any, and its length."""
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
    connector: Driver,
    secret: str,
    errors: list[tuple[str, RunError]],
) -> None:
    """One correctly signed delivery and one forged one: both paths handle the signing secret."""
    event = ctx.manifest.webhooks[0]
    rng = random.Random(ctx.seed_for("deliveries"))
    data: dict[str, Any] = {"id": f"evt_{rng.randrange(1, 10**6)}"}  # like the sandbox's own event ids
    stream = next((s for s in ctx.manifest.streams if s.startswith(event.split(".")[0])), None)
    if stream is not None:
        records = tenant.records(stream)
        data = records[0] if records else data
    body = json.dumps(event_body(ctx.contract, event_schema(ctx.contract, event), event, data)).encode()
    signing = signing_for(ctx.contract, event)
    stamp = int(time.time())
    forged = signing.new_secret(rng)
    for label, signing_secret in (("valid", secret), ("forged", forged)):
        # delivery ids as the platform makes them: nothing says which check sends them
        headers = signing.sign(signing_secret, body, msg_id=signing.new_id(rng), timestamp=stamp)
        _attempt(errors, f"handle_webhook({label} delivery)", connector.handle_webhook, headers, body)


def _places(replica: Replica, connector: Driver, errors: list[tuple[str, RunError]]) -> Places:
    """Everything the connector produced that people or other systems get to read, by where."""
    out: Places = []
    for i, entry in enumerate(replica.logs, 1):
        out.append((f"log #{i} ({entry.get('level')} {str(entry.get('message'))[:40]!r})", _text(entry)))
    for stream, rows in replica.rows.items():
        for record_id, record in rows.items():
            out.append((f"stored record {stream}/{record_id}", _text(record)))
    for i, state in enumerate(replica.checkpoints, 1):
        out.append((f"checkpoint #{i}", _text(state)))
    for call, exc in errors:
        out.append((f"the error of {call}", str(exc)))
        out.append((f"the traceback of {call}", exc.traceback_text))
    for i, line in enumerate(connector.diagnostics().stderr, 1):
        out.append((f"stderr line {i}", line))
    return out


def request_urls(log: RequestLog) -> Places:
    """The path and query string of each request (as the sandbox logged them, secrets masked)."""
    return [
        (f"the URL of request #{e.seq} ({e.method} {e.path[:60]})", f"{e.path}?{e.query_string}") for e in log
    ]


def served_text(tenant: TenantHandle, streams: Iterable[str], log: RequestLog) -> list[str]:
    """Text the platform served or was sent back unmasked, so no token: the records (as JSON) and
    every query value of the request log (cursors, ids)."""
    records = [_text(record) for stream in streams for record in tenant.records(stream)]
    return records + [v for e in log for vs in e.query.values() for v in vs]


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _masked(value: str | None) -> str:
    return "recognized by the shape of the platform's tokens" if value is None else f"{value[:4]}****"
