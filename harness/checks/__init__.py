"""The certification catalogue. Importing this package registers every check."""

from harness.checks import (  # noqa: F401  (importing registers the checks)
    auth,
    auth_expiry,
    auth_revoked,
    auth_usage,
    certificates,
    change,
    contract,
    data,
    hostile,
    integrity,
    memory,
    observability,
    performance,
    pushes,
    refusals,
    resilience,
    resume,
    retried_push,
    scopes,
    secrets,
    stalls,
    stateful,
    webhook_fuzz,
    webhooks,
)
from harness.checks.context import CheckContext, Run
from harness.checks.failures import CheckFailure, Evidence, Finding, NotApplicable
from harness.checks.registry import LEVELS, PILLARS, REGISTRY, Check, check

__all__ = [
    "LEVELS",
    "PILLARS",
    "REGISTRY",
    "Check",
    "CheckContext",
    "CheckFailure",
    "Evidence",
    "Finding",
    "NotApplicable",
    "Run",
    "check",
]
