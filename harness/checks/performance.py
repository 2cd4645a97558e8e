"""Performance checks: the connector uses its rate budget well and streams instead of hoarding."""

from __future__ import annotations
