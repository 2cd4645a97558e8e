"""Webhook defect: trusts a signed event of a known type to match the contract's schema (its
`data` an object with an email) and answers 500, as a web framework does for an unhandled
error, when it does not. Valid events and bytes that are not a known event are handled; only an
event that breaks the schema (schemathesis's negative cases) shows it."""

from __future__ import annotations

from typing import Any

from acme_sync import AcmeSync


class TrustsEventShape(AcmeSync):
    def handle_webhook(self, headers: Any, body: bytes | str) -> int:
        try:
            return super().handle_webhook(headers, body)
        except Exception:
            return 500

    def _apply_webhook(self, event: Any) -> bool:
        if isinstance(event, dict) and event.get("type") in ("contact.created", "contact.updated"):
            event["data"]["email"].lower()  # the defect: the schema says so, the body need not
        return super()._apply_webhook(event)
