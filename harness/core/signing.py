"""Webhook signing, the one copy: the sandbox signs deliveries with it, checks forge with it.

A `Signing` is a platform's scheme, as the contract declares it (`x-sandbox: {signing: ...}`,
parsed in harness.contract.signing). Four shapes cover what platforms do:

- `standard-webhooks` (the default): `webhook-signature: v1,<base64 HMAC-SHA256 of
  "{id}.{timestamp}.{body}">` with `webhook-id` and `webhook-timestamp`; the key is the base64
  after `whsec_`.
- `hmac`: the HMAC of the raw body in one header, hex or base64, maybe after a prefix (GitHub's
  `X-Hub-Signature-256: sha256=<hex>`, Shopify's `X-Shopify-Hmac-Sha256: <base64>`).
- `timestamped`: `t={timestamp},v1={hex HMAC of "{timestamp}.{body}"}` (Stripe-Signature).
- `base-string`: the HMAC of a template such as `v0:{timestamp}:{body}`, the timestamp in its own
  header (Slack's X-Slack-Signature `v0=<hex>` with X-Slack-Request-Timestamp).

Outside Standard Webhooks the secret is the key as the vendor hands it out: its UTF-8 bytes.
Signing works on bytes, so a body that is not UTF-8 (the webhook fuzzer sends those) is signed
the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SCHEMES = ("standard-webhooks", "hmac", "timestamped", "base-string")
ALGORITHMS = ("sha256", "sha1")
ENCODINGS = ("hex", "base64")
TOLERANCE = 300  # seconds a timestamp may be off; the tamperings are an hour off

# What each tampering makes of a delivery, for messages ({header}s filled in per scheme).
TAMPERING_TEXT = {
    "bad_signature": "a signature that does not match the body",
    "wrong_secret": "a signature made with another secret",
    "body_changed": "a body changed after it was signed",
    "stale_timestamp": "a timestamp an hour old",
    "future_timestamp": "a timestamp an hour ahead",
    "missing_id": "no {id} header",
    "missing_timestamp": "no timestamp ({timestamp})",
    "missing_signature": "no {signature} header",
}


@dataclass(frozen=True)
class Signing:
    """How a platform signs its webhook deliveries. Header names as the vendor spells them."""

    scheme: str = "standard-webhooks"
    header: str = "webhook-signature"
    encoding: str = "base64"
    prefix: str = ""
    algorithm: str = "sha256"
    timestamp_header: str | None = "webhook-timestamp"
    base: str = ""  # base-string: the signed template, {timestamp} and {body} filled in
    id_header: str | None = "webhook-id"  # the delivery id a receiver dedups by, where there is one

    # -- what the scheme has ---------------------------------------------------------------

    @property
    def name(self) -> str:
        """The scheme and its signature header, for messages: `hmac (X-Hub-Signature-256)`."""
        return f"{self.scheme} ({self.header})"

    @property
    def has_timestamp(self) -> bool:
        if self.scheme == "base-string":
            return "{timestamp}" in self.base
        return self.scheme in ("standard-webhooks", "timestamped")

    @property
    def timestamp_place(self) -> str:
        """Where the timestamp travels: its header, or `t=` in the signature header."""
        if self.scheme == "timestamped":
            return f"t= in {self.header}"
        return str(self.timestamp_header)

    @property
    def tamperings(self) -> tuple[str, ...]:
        """The bad deliveries a receiver of this scheme must refuse."""
        kinds = ["bad_signature", "wrong_secret", "body_changed"]
        if self.has_timestamp:
            kinds += ["stale_timestamp", "future_timestamp"]
        if self.scheme == "standard-webhooks":
            kinds.append("missing_id")  # the spec makes it part of what is signed
        if self.has_timestamp:
            kinds.append("missing_timestamp")
        kinds.append("missing_signature")
        return tuple(kinds)

    def tampering_text(self, kind: str) -> str:
        text = TAMPERING_TEXT.get(kind, kind)
        return text.format(id=self.id_header, timestamp=self.timestamp_place, signature=self.header)

    def headers_text(self) -> str:
        """The headers a delivery carries: `webhook-id, webhook-timestamp, webhook-signature`."""
        names = [self.id_header, self.timestamp_header if self.scheme != "timestamped" else None]
        return ", ".join(n for n in [*names, self.header] if n)

    def placeholders(self) -> dict[str, str]:
        """Header values of the right names, replaced at sending (a fuzzer's generated headers)."""
        out = {self.header: "0"}
        if self.id_header:
            out[self.id_header] = "msg_0"
        if self.timestamp_header and self.scheme != "timestamped":
            out[self.timestamp_header] = "0"
        return out

    def header_names(self) -> set[str]:
        """Lower-cased names of the headers this scheme sends."""
        return {n.lower() for n in self.placeholders()}

    # -- secrets, ids ----------------------------------------------------------------------

    def new_secret(self, rng: random.Random | None = None) -> str:
        """A secret in the shape the vendor hands out: whsec_<base64> for Standard Webhooks and
        the Stripe-like scheme, a hex string for the others (`rng`: from it, for a seeded run)."""

        def key(n: int) -> bytes:
            return rng.randbytes(n) if rng is not None else secrets.token_bytes(n)

        if self.scheme == "standard-webhooks":
            return "whsec_" + base64.b64encode(key(24)).decode()
        if self.scheme == "timestamped":
            return "whsec_" + key(16).hex()
        return key(20).hex()

    def secret_problem(self, secret: str) -> str | None:
        """Why `secret` cannot sign for this scheme, or None."""
        if not isinstance(secret, str) or not secret:
            return "the secret is empty"
        if self.scheme == "standard-webhooks":
            try:
                key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if not secret.startswith("whsec_") or not key:
                return "a Standard Webhooks secret is whsec_<base64>"
        return None

    def new_id(self, rng: random.Random | None = None) -> str:
        """A delivery id in the scheme's shape (`rng`: from it, for a seeded run)."""
        if self.scheme == "standard-webhooks":
            return "msg_" + (f"{rng.getrandbits(96):024x}" if rng is not None else secrets.token_hex(12))
        if rng is not None:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return str(uuid.uuid4())  # GitHub's X-GitHub-Delivery is a GUID

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The delivery id a receiver dedups by; None when the scheme has no id header."""
        if not self.id_header:
            return None
        wanted = self.id_header.lower()
        return next((str(v) for k, v in headers.items() if k.lower() == wanted), None)

    # -- signing ---------------------------------------------------------------------------

    def _key(self, secret: str) -> bytes:
        if self.scheme == "standard-webhooks":
            return base64.b64decode(secret.removeprefix("whsec_"))
        return secret.encode()

    def _mac(self, secret: str, message: bytes) -> bytes:
        return hmac.new(self._key(secret), message, getattr(hashlib, self.algorithm)).digest()

    def _encode(self, digest: bytes) -> str:
        return digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()

    def _base(self, payload: bytes, msg_id: str, stamp: str) -> bytes:
        if self.scheme == "standard-webhooks":
            return f"{msg_id}.{stamp}.".encode() + payload
        if self.scheme == "timestamped":
            return f"{stamp}.".encode() + payload
        if self.scheme == "base-string":
            head, _, tail = self.base.partition("{body}")
            return (
                head.replace("{timestamp}", stamp).encode()
                + payload
                + tail.replace("{timestamp}", stamp).encode()
            )
        return payload

    def signature(self, secret: str, payload: bytes, msg_id: str, stamp: str, *, flip: bool = False) -> str:
        """The signature header's value (`flip`: with the first byte of the MAC changed)."""
        digest = self._mac(secret, self._base(payload, msg_id, stamp))
        if flip:
            digest = bytes([digest[0] ^ 1]) + digest[1:]
        if self.scheme == "standard-webhooks":
            return "v1," + base64.b64encode(digest).decode()
        if self.scheme == "timestamped":
            return f"t={stamp},v1={digest.hex()}"
        return self.prefix + self._encode(digest)

    def sign(
        self, secret: str, payload: bytes, msg_id: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        """The headers of a correctly signed delivery of `payload`."""
        msg_id = msg_id or self.new_id()
        stamp = str(int(timestamp if timestamp is not None else time.time()))
        headers = {}
        if self.id_header:
            headers[self.id_header] = msg_id
        if self.timestamp_header and self.scheme != "timestamped" and self.has_timestamp:
            headers[self.timestamp_header] = stamp
        headers[self.header] = self.signature(secret, payload, msg_id, stamp)
        return headers

    def verify(
        self, secret: str, payload: bytes, headers: Mapping[str, str], now: float | None = None
    ) -> str | None:
        """None when the delivery is authentic and fresh, else why not: a receiver's reference."""
        lowered = {k.lower(): str(v) for k, v in headers.items()}
        sent = lowered.get(self.header.lower())
        if not sent:
            return f"no {self.header} header"
        msg_id = lowered.get(self.id_header.lower(), "") if self.id_header else ""
        if self.scheme == "standard-webhooks" and not msg_id:
            return f"no {self.id_header} header"
        stamp = ""
        if self.scheme == "timestamped":
            parts = dict(p.partition("=")[::2] for p in sent.split(","))
            stamp = parts.get("t", "")
        elif self.has_timestamp:
            stamp = lowered.get(str(self.timestamp_header).lower(), "")
        if self.has_timestamp:
            if not stamp.isdigit():
                return f"no timestamp ({self.timestamp_place})"
            if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE:
                return f"timestamp {stamp} is outside the tolerance of {TOLERANCE}s"
        expected = self.signature(secret, payload, msg_id, stamp)
        if self.scheme == "standard-webhooks":
            ok = any(hmac.compare_digest(s, expected) for s in sent.split())
        elif self.scheme == "timestamped":
            ok = any(hmac.compare_digest(f"t={stamp},{p.strip()}", expected) for p in sent.split(",")[1:])
        else:
            ok = hmac.compare_digest(sent, expected)
        return None if ok else f"{self.header} does not match the body"

    def tamper(
        self, kind: str, secret: str, payload: bytes, previous: Mapping[str, str] | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a delivery that a correct receiver must refuse (or, for `replay`,
        not apply twice). kinds: `tamperings`, and replay (the headers of `previous` again)."""
        if kind == "replay":
            if previous is None:
                raise ValueError("a replay needs the headers of an earlier delivery")
            return dict(previous), payload
        if kind not in self.tamperings:
            raise ValueError(
                f"unknown tampering {kind!r} for {self.name}; known: {', '.join(self.tamperings)}"
            )
        hour = 3600
        if kind == "stale_timestamp":
            return self.sign(secret, payload, timestamp=int(time.time()) - hour), payload
        if kind == "future_timestamp":
            return self.sign(secret, payload, timestamp=int(time.time()) + hour), payload
        if kind == "wrong_secret":
            return self.sign(self.new_secret(), payload), payload
        if kind == "body_changed":
            return self.sign(secret, payload), changed_body(payload)
        msg_id, stamp = self.new_id(), str(int(time.time()))
        headers = self.sign(secret, payload, msg_id, int(stamp))
        if kind == "bad_signature":
            headers[self.header] = self.signature(secret, payload, msg_id, stamp, flip=True)
        elif kind == "missing_signature":
            headers.pop(self.header)
        elif kind == "missing_id" and self.id_header:
            headers.pop(self.id_header)
        elif kind == "missing_timestamp":
            if self.scheme == "timestamped":
                headers[self.header] = headers[self.header].split(",", 1)[1]  # v1=... alone
            elif self.timestamp_header:
                headers.pop(self.timestamp_header)
        return headers, payload


def changed_body(payload: bytes) -> bytes:
    """The body with one value changed, as a forger would: a string of the event's `data`
    (other than its id) gets a suffix, or, for a body that is not such JSON, a byte is added."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload + b" "
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        for key, value in data.items():
            if key != "id" and isinstance(value, str):
                data[key] = value + " (forged)"
                return json.dumps(body, separators=(",", ":")).encode()
        data["forged"] = True
        return json.dumps(body, separators=(",", ":")).encode()
    return payload + b" "


STANDARD = Signing()
TAMPERINGS = STANDARD.tamperings


def shared_secret(schemes: Iterable[Signing], rng: random.Random | None = None) -> str:
    """One secret that signs for every scheme of a receiver: a Standard Webhooks one where any
    of them is that (its whsec_ string is a plain key to the others too), else in the shape of
    the first scheme's secrets."""
    found = list(schemes) or [STANDARD]
    standard = any(s.scheme == STANDARD.scheme for s in found)
    return (STANDARD if standard else found[0]).new_secret(rng)


def new_secret() -> str:
    """A Standard Webhooks secret (the default scheme)."""
    return STANDARD.new_secret()


def sign(
    secret: str, payload: bytes, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for a payload."""
    return STANDARD.sign(secret, payload, msg_id, timestamp)


def tamper(kind: str, secret: str, payload: bytes, previous: dict[str, str] | None = None) -> dict[str, str]:
    """Standard Webhooks headers a receiver must refuse (body_changed: use Signing.tamper)."""
    return STANDARD.tamper(kind, secret, payload, previous)[0]
