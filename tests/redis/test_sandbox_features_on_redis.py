"""The sandbox's feature tests (tests/unit/test_sandbox_features.py: rate limits, idempotency,
faults, webhooks, audit, revocation, clock, churn) with every tenant kept in Redis."""

from tests.unit.test_sandbox_features import *  # noqa: F403
