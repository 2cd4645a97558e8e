"""Resilience checks: the connector survives the platform misbehaving, without making it worse."""

from __future__ import annotations
