"""Finding a credential in text, however it was written: as is, percent-encoded, base64 (an
`Authorization: Basic` header) or hex, and text shaped like the platform's access tokens.

Pure functions over (where, text) pairs, so SEC-01's verdict can be tested on strings alone.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

Places = list[tuple[str, str]]  # (where, text)
URLSAFE = re.compile(r"[A-Za-z0-9_-]+")
TOKENISH = re.compile(r"[A-Za-z0-9_\-+/=]{16,}")  # any run that could be (part of) a credential
HEXISH = re.compile(r"(?:[0-9a-fA-F]{2}){16,}")


def decodings(text: str) -> list[tuple[str, str]]:
    """The text as whoever reads it can decode it: percent-decoded, and each run that is base64
    or hex decoded (an `Authorization: Basic` header, a key logged as DER bytes in hex, which
    shows as the base64 its PEM file holds). Encoding a credential does not hide it."""
    out: list[tuple[str, str]] = []
    if "%" in text:
        out.append(("percent-encoded", unquote_plus(text)))
    runs = []
    for run in set(TOKENISH.findall(text)):
        body = run.rstrip("=")
        alphabet = b"-_" if "-" in body or "_" in body else None  # the URL-safe one, where it shows
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
        runs.append(raw.decode("latin-1"))
    if runs:
        out.append(("base64-encoded", "\n".join(runs)))
    hexed = [bytes.fromhex(run) for run in set(HEXISH.findall(text))]
    if hexed:
        out.append(
            (
                "hex-encoded",
                "\n".join(h.decode("latin-1") + "\n" + base64.b64encode(h).decode() for h in hexed),
            )
        )
    return out


def find_leaks(
    outputs: Places,
    secrets: Mapping[str, str],
    shape: re.Pattern[str] | None,
    served: Iterable[str] = (),
) -> dict[str, list[str]]:
    """What -> where: each secret (what -> value) found in an output (where, text), and text shaped
    like the platform's tokens unless it is text the platform itself served (`served`: a record's
    value, a cursor sent back in a URL), which a token never is."""
    leaks: dict[str, list[str]] = {}
    decoded = [decodings(text) for _, text in outputs] if secrets else []
    for what, value in secrets.items():
        where = []
        for (w, text), forms in zip(outputs, decoded, strict=True):
            if value in text:
                where.append(w)
                continue
            how = next((how for how, form in forms if value in form), None)  # one place, counted once
            if how is not None:
                where.append(f"{w} ({how})")
        key = what.replace("signing key", "secret")
        if where and not ("signing key" in what and key in leaks):
            leaks[what] = where
    if shape is not None:
        known = {m for text in served for m in shape.findall(text)}
        where = [w for w, text in outputs if any(m not in known for m in shape.findall(text))]
        if where:
            leaks["an access token"] = where
    return leaks


def token_shape(token: Any) -> re.Pattern[str] | None:
    """A pattern for tokens shaped like this one: its prefix (`at_`), if any, and its length."""
    if not isinstance(token, str) or not URLSAFE.fullmatch(token):
        return None
    prefix, sep, body = token.partition("_")
    if not (sep and prefix.isalpha() and len(prefix) <= 8):
        prefix, sep, body = "", "", token
    if len(body) < 20:  # too short to tell from an ordinary word
        return None
    edge = r"A-Za-z0-9_-"
    return re.compile(rf"(?<![{edge}]){re.escape(prefix + sep)}[{edge}]{{{len(body)}}}(?![{edge}])")
