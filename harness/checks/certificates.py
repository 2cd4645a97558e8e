"""SEC-03: the connector verifies the platform's TLS certificate, on every runtime.

The sandbox is put behind `harness.runtime.tls.untrusted_front`: a TLS listener whose certificate
comes from a CA made for this check and trusted by no one. It forwards whatever gets through to
the sandbox, so the sandbox's own log shows what a connector with verification off sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checks.context import CheckContext
from harness.checks.failures import Finding, NotApplicable
from harness.checks.registry import check
from harness.connectors import ConnectorFailed, ConnectorTimeout
from harness.core import RequestLog
from harness.runtime import rebase, untrusted_front

CALL_TIMEOUT = 20.0  # a connector retrying a refused handshake with backoff is stopped here: still a refusal
RECORDS = 5


@check("SEC-03", pillar="secrets", severity="high", level="standard", timeout=60)
def refuses_untrusted_tls(ctx: CheckContext) -> None:
    """Refuses a platform that presents an untrusted TLS certificate.

    A connector that turns certificate verification off (`verify=False`, `rejectUnauthorized:
    false`, `CERT_NONE`) hands its credentials and the customer's data to anyone who can intercept
    the connection. The check gives the connector a platform URL served over HTTPS with a
    certificate from a CA nobody trusts and runs a sync: the connector must refuse the handshake
    (its sync then fails, which is right) and send nothing. Trust comes only from the system's CAs
    and, when the run serves TLS itself, `SSL_CERT_FILE` / `config["ca_bundle"]`.
    """
    tenant = ctx.tenant({stream: RECORDS for stream in ctx.manifest.streams}, purpose="untrusted-tls")
    config = ctx.config(tenant)
    with untrusted_front(tenant.base_url) as front:
        fronted = {
            key: rebase(config[key], front.url) for key in ("base_url", "token_url") if config.get(key)
        }
        connector = ctx.connector(tenant, config={**config, **fronted}, timeout=CALL_TIMEOUT)
        error: ConnectorFailed | ConnectorTimeout | None = None
        try:
            connector.sync(None)
        except (ConnectorFailed, ConnectorTimeout) as exc:
            error = exc
        finally:
            connector.close()
        seen = Handshakes(accepted=front.handshakes, refused=front.refused)
    ctx.require(judge_untrusted_tls(seen, tenant.requests(), front.url))
    if seen.accepted == 0 and seen.refused == 0:
        raise NotApplicable(
            "the connector never connected to the platform URL it was given"
            + (f" (its sync ended: {error})" if error else "")
            + ", so there was no certificate for it to refuse"
        )


@dataclass(frozen=True)
class Handshakes:
    """TLS handshakes at the untrusted front: completed (the client accepted the certificate)
    and failed (the client hung up on it)."""

    accepted: int
    refused: int


def judge_untrusted_tls(seen: Handshakes, reached: RequestLog, front: str) -> Finding | None:
    """Any completed handshake is the defect; requests that reached the platform through it show
    what an attacker in the middle would have read."""
    if seen.accepted == 0:
        return None
    sent = f"; {len(reached)} request(s) went through it, e.g. {reached[0].line()}" if reached else ""
    return Finding.of(
        f"accepted a TLS certificate from a CA nobody trusts at {front}: {seen.accepted} connection(s) "
        f"completed the handshake{sent}. Certificate verification is off (verify=False or the like), "
        "so anyone between the connector and the platform can read its credentials and data",
        expected="the handshake refused (CERTIFICATE_VERIFY_FAILED) and nothing sent",
        requests=list(reached)[:5],
        handshakes_accepted=seen.accepted,
        handshakes_refused=seen.refused,
    )
