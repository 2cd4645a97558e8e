"""Secrets checks: credentials never leak, and the connector talks to no one but the platform."""

from __future__ import annotations
