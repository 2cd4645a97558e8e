"""Secrets checks: credentials never leak, and the connector talks to no one but the platform."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.checks.context import REVOKED_CALL_TIMEOUT, CheckContext, Driver, RunError
from harness.checks.exposures import (
    Leak,
    _text,
    _token_shape,
    driver_places,
    pem_body,
    request_urls,
    served_text,
)
from harness.checks.failures import Finding, NotApplicable
from harness.checks.leaks import find_leaks, token_shape
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.contract.events import event_body, event_schema
from harness.contract.signing import signing_for
from harness.core.signing import Signing, shared_secret
from harness.runtime import TenantHandle

RECORDS = 30  # per stream: one page, the point is the paths a secret can travel, not volume
Places = list[tuple[str, str]]  # (where, text) of everything the connector produced
__all__ = ["request_urls", "token_shape"]  # re-exported: harness.fuzz and the tests read URLs as SEC-01 does


@check(
    "SEC-01",
    pillar="secrets",
    severity="critical",
    level="basic",
    timeout=90,
    last=True,
    judges_requests=True,
)
def no_secret_leaks(ctx: CheckContext) -> None:
    """No credential appears in its logs, records, checkpoints, errors, output or request URLs.

    The connector gets a client secret, a webhook signing secret and, from the token endpoint,
    access tokens. It runs `check()`, a full and an incremental sync, a valid and a forged
    webhook delivery (when it declares webhooks), and then, with its client revoked, a sync that
    fails. None of these secrets may appear in what it logs (`sink.log`, LOG lines), the records
    and checkpoints it stores, the text and traceback of its errors, its stderr (a Python
    connector's prints and `logging` records included), or the paths and query strings of its
    requests as it sent them: all of these end up in log aggregators, tickets and screenshots.
    The same is looked for in what the connector produced during every other check of the run
    (a 5xx, a throttled or a revoked call takes error paths this scenario does not): this check
    runs after all of them. Tokens are recognized by the shape of the tokens the platform issues
    (text the platform served, such as a record's value or a cursor the connector sends back, is
    never taken for one).
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
    front = ctx.fronts.front(tenant)  # mutualTLS: the client key's contents are a secret too
    key = pem_body(str(front.client_key)) if front is not None else None
    if key is not None:
        secrets["the TLS client key"] = key
    log = tenant.requests()
    outputs = _places(replica, connector, errors) + request_urls(log, ctx.contract)
    suspects = find_leaks(outputs, secrets, shape)  # the platform's text is read only to rule a token out
    served = served_text(tenant, ctx.manifest.streams, log) if "an access token" in suspects else ()
    others = ctx.exposures.elsewhere(ctx.check_id) if ctx.exposures is not None else []
    ctx.require(judge_no_leaks(outputs, secrets, shape, served, others))


def judge_no_leaks(
    outputs: Places,
    secrets: Mapping[str, str],
    shape: re.Pattern[str] | None,
    served: Iterable[str] = (),
    elsewhere: Iterable[Leak] = (),
) -> Finding | None:
    """No secret (what -> value) in any output (where, text) of this check's scenario, no text
    shaped like the platform's tokens that the platform did not serve, and no leak found in any
    other check's connectors (`elsewhere`, from the run's ledger). Names what and where, never
    the value (a secret shows as its first four characters and ****)."""
    leaks = find_leaks(outputs, secrets, shape, served)
    for leak in elsewhere:
        leaks.setdefault(leak.what, []).extend(f"{w} during {leak.check_id}" for w in leak.where)
    if not leaks:
        return None
    return Finding.of(
        "; ".join(
            f"leaked {what}{_masked(what, secrets.get(what))} in {len(where)} place(s), "
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
    connector's worker process refuses every connection, UDP datagram and name lookup to a host
    other than the platform's (the hosts of `base_url` and `token_url`; a URL of the manifest's
    own `[connector.config]` is not the platform) and loopback, whatever Python HTTP client makes
    it (httpx, requests, urllib, aiohttp), and reports it: nothing actually leaves. What it cannot
    follow makes this check not applicable, with the reason, never a pass: a process the
    connector starts, native code called through ctypes, a native network client (pycurl,
    uvloop, grpc), and a command connector, whose process makes its own connections.
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
        blind = connector.unobserved()
    finally:
        connector.close()
    platform = tenant.base_url.split("/t/")[0]
    finding = judge_no_egress(egress, [f"{call}: {exc}" for call, exc in errors], platform)
    if finding is None and blind:  # what was seen is clean, but not everything could be seen
        raise NotApplicable("the harness could not see every outbound connection: " + "; ".join(blind[:3]))
    ctx.require(finding)


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
    return driver_places(replica, connector.diagnostics(), errors, _text)


def _masked(what: str, value: str | None) -> str:
    if what == "an access token":
        return " (recognized by the shape of the platform's tokens)"
    if value is None:  # a credential another check handed its connector
        return ""
    return " (****)" if len(value) < 16 else f" ({value[:4]}****)"
