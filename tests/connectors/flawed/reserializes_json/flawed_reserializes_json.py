"""WH-01 defect: checks X-Hub-Signature-256 over the body re-serialized as compact JSON instead
of the bytes received. It matches a compact ASCII body in the sender's key order, so it looks
right, but a platform that sends spaced or pretty-printed JSON, keys in another order or text as
UTF-8 (the signature is over those bytes) has its authentic deliveries refused, retried and
finally dropped."""

from __future__ import annotations

import json

from github_sync import GitHubSync


class ReserializesJson(GitHubSync):
    def _signed_bytes(self, raw: bytes) -> bytes:
        try:
            return json.dumps(json.loads(raw), separators=(",", ":")).encode()
        except ValueError:
            return raw
