"""RES-04 defect: checks every text value against latin-1 before storing it (as a legacy
database column would), so text the schema allows but latin-1 cannot hold (Hebrew, Arabic,
CJK, emoji, astral-plane letters) crashes the sync with UnicodeEncodeError."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class CrashesOnNonLatinText(AcmeSync):
    def _store(self, stream: str, record: dict[str, Any]) -> None:
        for value in record.values():
            if isinstance(value, str):
                value.encode("latin-1")
        super()._store(stream, record)
