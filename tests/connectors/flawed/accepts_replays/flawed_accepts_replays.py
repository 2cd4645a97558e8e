"""WH-03 defect: keeps no memory of the `webhook-id`s it applied, so every retry of a delivery
is applied again: a record is written twice, and a late duplicate of a created event brings back
a record that has since been deleted."""

from __future__ import annotations

from acme_sync import AcmeSync


class AcceptsReplays(AcmeSync):
    def _is_replay(self, msg_id: str) -> bool:
        return False
