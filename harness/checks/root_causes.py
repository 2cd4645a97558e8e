"""Root causes: a failed check whose own scenario shows another check's defect names that check.

When a sync breaks on its first request (a page size over the contract's maximum), every check
that syncs fails, each with a message about its own subject ("gave up instead of retrying",
"asked for scopes it never used") that points away from the cause. Each check's evidence already
shows the cause: requests the platform refused for breaking the contract. A failed check with
such requests in its own tenants' logs is a *suspect* of CON-01; the certificate reports it
`inconclusive`, blocked by CON-01, when CON-01 failed in the same run (harness.report).
On a mutualTLS platform a connector without a valid client certificate is refused at the TLS
handshake, before any request: a failed check whose tenants' fronts refused handshakes is a
suspect of AUTH-01, which names that defect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.checks.contract import listing, violations
from harness.checks.registry import Check
from harness.core import RequestLog

CONTRACT_ROOT = "CON-01"
CERTIFICATE_ROOT = "AUTH-01"  # mutualTLS: the connector presented no valid client certificate


@dataclass(frozen=True)
class Suspect:
    """The check whose defect this check's scenario ran into, and what shows it."""

    check: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}


def suspect(check: Check, logs: Iterable[RequestLog], refused_handshakes: int = 0) -> Suspect | None:
    """AUTH-01, when the platform's client-certificate front (mutualTLS) refused some of this
    check's connections: nothing they asked for arrived, whatever the check judged. Else CON-01,
    when the platform refused some of this check's requests as breaking the contract. The checks
    that judge requests themselves (`judges_requests`) are never blocked by one."""
    if refused_handshakes and check.id != CERTIFICATE_ROOT:
        return Suspect(
            CERTIFICATE_ROOT,
            f"the platform refused {refused_handshakes} of its TLS handshake(s) for want of a valid "
            "client certificate, so the requests of those connections never reached the API",
        )
    if check.judges_requests:  # a refused request is its own finding (CON-02, judging stored records, is not)
        return None
    refused = [e for log in logs for e in log if e.status >= 400 and violations(e)]
    if not refused:
        return None
    return Suspect(
        CONTRACT_ROOT,
        f"the platform refused {len(refused)} of its requests as breaking the contract, e.g. "
        f"{refused[0].line()}: {listing(refused)}",
    )
