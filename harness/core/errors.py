"""The one root of the harness's own errors.

Every exception class the package defines derives from `HarnessError`, so a caller (the CLI, an
integrator's test, a check) can catch everything the harness raises on purpose in one clause and
still tell it from a bug. Each class also keeps the stdlib base its callers catch it by
(`class ContractError(HarnessError, ValueError)`), so no existing `except ValueError` changes.
"""

from __future__ import annotations


class HarnessError(Exception):
    """An error the harness raises on purpose (bad input, a connector or sandbox that failed)."""
