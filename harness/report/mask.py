"""Masking secrets out of connector-controlled text before any rendering sees it.

A connector's exception text, stderr or log line can carry the credentials it was given or a
canary it read; the certificate, HTML, Markdown, JUnit and the terminal all show such text.
Every issued credential the run knows of is masked by value, and the credential formats the
sandbox issues (the contract's formats for client secrets and access tokens, see
harness/sandbox/credentials.py; webhook secrets; canaries) by pattern, so a value the harness
never saw in full (an access token) is masked too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from harness.contract import Contract, ContractError
from harness.sandbox.credentials import Formats, contract_formats, mask_patterns

MASK = "****"
MIN_SECRET = 6  # shorter values would mask ordinary words
PATTERNS = (
    re.compile(r"whsec_[A-Za-z0-9+/=_-]+"),  # Standard Webhooks secrets
    re.compile(r"\b(?:at|cs|rt)_[A-Za-z0-9_-]{16,}"),  # what sandboxes before the contract's formats issued
    re.compile(r"cnry[0-9a-f]{12}"),  # planted canaries
)


class Masker:
    """Collects secret values during a run and masks them (and known formats) in any value."""

    def __init__(self, values: Iterable[str] = (), formats: Formats | None = None) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._shapes = (*PATTERNS, *mask_patterns(formats or Formats()))
        self.add(*values)

    @classmethod
    def for_contract(cls, contract: Contract) -> Masker:
        """A masker for the credential shapes the contract's sandbox issues. A bad credential
        hint falls back to the default shapes: the sandbox refuses such a contract anyway."""
        try:
            formats = contract_formats(contract)
        except ContractError:
            formats = Formats()
        return cls(formats=formats)

    def add(self, *values: Any) -> None:
        with self._lock:
            for value in values:
                if isinstance(value, str) and len(value) >= MIN_SECRET and value not in self._values:
                    self._values.add(value)
                    if value.startswith("whsec_"):  # the signing key is the part after the prefix
                        self._values.add(value.removeprefix("whsec_"))
                    self._pattern = None

    def text(self, text: str) -> str:
        with self._lock:
            if self._pattern is None and self._values:
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        for known in self._shapes:
            text = known.sub(MASK, text)
        return text

    def value(self, value: Any) -> Any:
        """The same value with every string in it (keys included) masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


SECRET_KEYS = re.compile(r"secret|password|token|api_?key|credential", re.IGNORECASE)


def secrets_in(mapping: dict[str, Any]) -> list[str]:
    """String values under secret-sounding keys of a (nested) mapping: a tenant's credentials."""
    out: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            out += secrets_in(value)
        elif isinstance(value, str) and SECRET_KEYS.search(str(key)):
            out.append(value)
    return out
