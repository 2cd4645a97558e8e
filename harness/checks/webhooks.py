"""Webhook checks: deliveries are verified, applied once, and bad ones refused without side effects."""

from __future__ import annotations
