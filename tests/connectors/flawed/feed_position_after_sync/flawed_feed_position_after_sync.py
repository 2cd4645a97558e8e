"""INT-03 defect: a full sync takes the change-feed position *after* paging through the lists
instead of before, so a record deleted while it paged (after its page was read) is never removed:
the deletion lies before the position its next incremental sync starts from."""

from __future__ import annotations

from acme_sync import AcmeSync


class FeedPositionAfterSync(AcmeSync):
    def _full_sync(self) -> None:
        self.sink.log("info", "full sync started", streams=",".join(self._streams))
        self._sync_streams(self._streams, None, None)
        self._checkpoint({"events_cursor": self._feed_position()})
