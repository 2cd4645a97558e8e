"""Opaque, tamper-evident cursors: a JSON position signed with the tenant's secret.

A connector must treat cursors as opaque. One that edits or forges a cursor gets a 400, not
someone else's page: the HMAC covers the position and the collection it belongs to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import orjson

from harness.core.errors import HarnessError


class InvalidCursor(HarnessError, ValueError):
    pass


MAC_TEXT = 16  # characters of the base64url of the 12-byte MAC


def encode(secret: bytes, scope: str, position: dict[str, Any], length: int | None = None) -> str:
    """The cursor for a position; with `length`, padded (inside the signed payload, a `z` field
    the decoder ignores) to the longest cursor of at most that many characters: a platform's
    cursors may be as long as its contract allows, and a connector must carry them whole."""
    # the same bytes as json.dumps(sort_keys=True, separators=(",", ":")) for these ASCII positions
    payload = orjson.dumps({"s": scope, **position}, option=orjson.OPT_SORT_KEYS)
    if length is not None:
        room = (length - 1 - MAC_TEXT) * 3 // 4  # payload bytes whose base64url fits
        pad = room - len(payload) - len(b',"z":""')
        if pad > 0:
            payload = orjson.dumps({"s": scope, **position, "z": "z" * pad}, option=orjson.OPT_SORT_KEYS)
    mac = hmac.digest(secret, payload, hashlib.sha256)[:12]
    return _b64(payload) + "." + _b64(mac)


def decode(secret: bytes, scope: str, cursor: str) -> dict[str, Any]:
    try:
        payload_text, mac_text = cursor.split(".", 1)
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        raise InvalidCursor("the cursor is malformed; pass back next_cursor exactly as received") from None
    expected = hmac.digest(secret, payload, hashlib.sha256)[:12]
    if not hmac.compare_digest(mac, expected):
        raise InvalidCursor("the cursor was altered or belongs to another tenant")
    position = json.loads(payload)
    position.pop("z", None)  # padding to a long cursor
    if position.pop("s", None) != scope:
        raise InvalidCursor("the cursor belongs to another list")
    return position


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
