"""Ed25519 signatures over a DSSE envelope (the format in-toto attestations travel in).

The signature covers DSSE's pre-authentication encoding of the payload type and the payload,
so changing one byte of either, or swapping the type, breaks it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.core.errors import HarnessError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
KEY_ENV = "HARNESS_SIGNING_KEY"


class SigningError(HarnessError, ValueError):
    pass


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyid(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def generate(folder: Path, name: str = "harness-signing") -> tuple[Path, Path]:
    """Write a new key pair: NAME.pem (private, mode 0600) and NAME.pub.pem."""
    key = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    if private.exists():
        raise SigningError(f"{private} exists; remove it or choose another --out folder")
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(private, 0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def load_private(value: str) -> Ed25519PrivateKey:
    """A private key from PEM text or a path to a PEM file (what HARNESS_SIGNING_KEY holds)."""
    text = value if "-----BEGIN" in value else _read(Path(value), "signing key")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"the signing key is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError("the signing key must be Ed25519 (make one with `harness keygen`)")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(_read(path, "public key").encode())
    except ValueError as exc:
        raise SigningError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path} is not an Ed25519 public key")
    return key


def envelope(statement: dict[str, Any], key: Ed25519PrivateKey | None) -> dict[str, Any]:
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    signatures = []
    if key is not None:
        sig = key.sign(pae(PAYLOAD_TYPE, payload))
        signatures.append({"keyid": keyid(key.public_key()), "sig": base64.b64encode(sig).decode()})
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": signatures,
    }


def open_envelope(env: dict[str, Any]) -> dict[str, Any]:
    """The statement inside an envelope (not yet verified)."""
    if not isinstance(env, dict) or env.get("payloadType") != PAYLOAD_TYPE or "payload" not in env:
        raise SigningError(f"not a DSSE envelope with payloadType {PAYLOAD_TYPE}")
    try:
        return json.loads(base64.b64decode(env["payload"], validate=True))
    except (ValueError, TypeError) as exc:
        raise SigningError(f"the payload is not base64-encoded JSON: {exc}") from None


def verify(env: dict[str, Any], public: Ed25519PublicKey) -> None:
    """Raise SigningError unless a signature in the envelope is valid for this key."""
    signatures = env.get("signatures") or []
    if not signatures:
        raise SigningError("the certificate is unsigned")
    try:
        payload = base64.b64decode(env["payload"], validate=True)
    except (ValueError, TypeError, KeyError):
        raise SigningError("the payload is not base64") from None
    message = pae(str(env.get("payloadType")), payload)
    for signature in signatures:
        try:
            public.verify(base64.b64decode(signature.get("sig", ""), validate=True), message)
            return
        except (InvalidSignature, ValueError, TypeError):
            continue
    raise SigningError(
        f"no signature verifies with key {keyid(public)}: the certificate was altered "
        "or signed with another key"
    )


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SigningError(f"cannot read the {what} {path}: {exc.strerror}") from None
