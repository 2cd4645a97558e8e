"""INT-04 defect: checkpoints the next page's cursor before storing the page's records, so a crash
while storing a page loses the rest of it: the resume starts after it."""

from __future__ import annotations

from acme_sync import AcmeSync


class CheckpointsBeforeStoring(AcmeSync):
    def _sync_stream(
        self, stream: str, cursor: str | None, events_cursor: str | None, following: str | None
    ) -> None:
        for records, next_cursor in self._pages(f"/v1/{stream}", cursor):
            if next_cursor:
                self._checkpoint({"stream": stream, "cursor": next_cursor, "events_cursor": events_cursor})
            elif following:
                self._checkpoint({"stream": following, "cursor": None, "events_cursor": events_cursor})
            for record in records:
                self._store(stream, record)
