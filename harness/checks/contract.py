"""Contract checks: the connector speaks the platform's API as the contract defines it."""

from __future__ import annotations

from collections import Counter

from harness.checks.context import CheckContext, describe
from harness.checks.registry import check

# Where the credential went is AUTH-01's finding; CON-01 does not report the same defect twice.
CREDENTIAL_ERRORS = {"token_in_query", "token_in_body"}


@check("CON-01", pillar="contract", severity="high")
def requests_conform(ctx: CheckContext) -> None:
    """Every request it makes conforms to the platform's contract.

    Paths, methods, query parameters, headers and bodies are validated against the OpenAPI
    contract as the sandbox receives them. Production rejects what breaks the contract, so a
    connector that relies on leniency (an out-of-range page size, an undeclared parameter)
    fails there even when it seems to work elsewhere.
    """
    tenant = ctx.tenant()
    run = ctx.sync(tenant)
    bad = [e for e in run.requests if _violations(e)]
    if not run.requests:
        raise ctx.fail(
            "the connector made no request, so there is nothing to judge",
            run_error=str(run.error) if run.error else None,
        )
    if bad:
        kinds = Counter(f"{v['pointer']}: {v['message']}" for e in bad for v in _violations(e))
        listing = "; ".join(f"{text} ({n}x)" for text, n in kinds.most_common(5))
        raise ctx.fail(
            f"{len(bad)} of {len(run.requests)} request(s) broke the contract, e.g. "
            f"{describe(bad[0])}: {listing}",
            expected="every request valid against the contract (see each violation's pointer)",
            requests=bad,
        )


def _violations(entry: dict) -> list[dict]:
    if entry.get("auth", {}).get("error") in CREDENTIAL_ERRORS:
        return [v for v in entry.get("violations", []) if not v["pointer"].startswith(("/query/", "/body"))]
    return entry.get("violations", [])
