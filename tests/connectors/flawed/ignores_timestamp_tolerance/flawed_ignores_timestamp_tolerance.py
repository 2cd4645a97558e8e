"""WH-02 defect, on the timestamped scheme (github_like.timestamped.openapi.yaml): verifies
`Stripe-Signature: t=...,v1=...` correctly, over `{t}.{raw body}`, but never compares `t` with
the clock. A delivery captured once can be replayed hours later and is applied again: the
timestamp is signed precisely so a receiver can refuse that (tolerance: minutes).

Otherwise the GitHub-like reference connector, reading the timestamped signature instead of
X-Hub-Signature-256; with no delivery id header, redeliveries are known by the body's digest."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from github_sync import GitHubSync


class IgnoresTimestampTolerance(GitHubSync):
    def _is_authentic(self, headers: Mapping[str, str], raw: bytes) -> bool:
        parts = [p.strip().partition("=") for p in headers.get("stripe-signature", "").split(",")]
        stamp = next((value for key, _, value in parts if key == "t"), "")
        signatures = [value for key, _, value in parts if key == "v1"]
        if not self._webhook_secret or not stamp.isdigit() or not signatures:
            return False
        # (the defect: no `abs(time.time() - int(stamp)) <= 300` here)
        key = str(self._webhook_secret).encode()
        expected = hmac.new(key, f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
        return any(hmac.compare_digest(s, expected) for s in signatures)
