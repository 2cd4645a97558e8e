"""Standard Webhooks signing, the one copy: the sandbox signs deliveries with it, checks forge with it.

`webhook-signature` is `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the key
is the base64 after `whsec_`. Signing works on bytes, so a body that is not UTF-8 (the webhook
fuzzer sends those) is signed the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

TAMPERINGS = (
    "bad_signature",
    "wrong_secret",
    "stale_timestamp",
    "future_timestamp",
    "missing_id",
    "missing_timestamp",
    "missing_signature",
)
_MISSING = {
    "missing_id": "webhook-id",
    "missing_timestamp": "webhook-timestamp",
    "missing_signature": "webhook-signature",
}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(
    secret: str, payload: bytes, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for a payload."""
    msg_id = msg_id or "msg_" + secrets.token_hex(12)
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + payload, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def tamper(kind: str, secret: str, payload: bytes, previous: dict[str, str] | None = None) -> dict[str, str]:
    """Headers for a delivery that a correct receiver must refuse (or, for `replay`, not apply twice).

    kinds: TAMPERINGS, and replay (the headers of `previous` again).
    """
    if kind == "replay":
        if previous is None:
            raise ValueError("a replay needs the headers of an earlier delivery")
        return dict(previous)
    if kind == "stale_timestamp":
        return sign(secret, payload, timestamp=int(time.time()) - 3600)
    if kind == "future_timestamp":
        return sign(secret, payload, timestamp=int(time.time()) + 3600)
    if kind == "wrong_secret":
        return sign(new_secret(), payload)
    headers = sign(secret, payload)
    if kind == "bad_signature":
        raw = base64.b64decode(headers["webhook-signature"].split(",", 1)[1])
        headers["webhook-signature"] = "v1," + base64.b64encode(bytes([raw[0] ^ 1]) + raw[1:]).decode()
        return headers
    if kind in _MISSING:
        headers.pop(_MISSING[kind])
        return headers
    raise ValueError(f"unknown tampering {kind!r}")
