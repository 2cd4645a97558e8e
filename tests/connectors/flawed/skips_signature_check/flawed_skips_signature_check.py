"""WH-02 defect: never checks the `webhook-signature` (any signature "matches"). Headers and
timestamps are still checked, so deliveries look verified, but anyone who can reach the
endpoint can write into the customer's data with a made-up signature."""

from __future__ import annotations

from acme_sync import AcmeSync


class SkipsSignatureCheck(AcmeSync):
    def _signature_is_valid(self, msg_id: str, timestamp: str, body: bytes, signatures: str) -> bool:
        return True
