"""Data minimization checks: fields the connector does not declare never reach its outputs."""

from __future__ import annotations
