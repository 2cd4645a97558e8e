"""WH-01 defect: checks X-Hub-Signature-256 over the body after turning its non-ASCII text into
JSON `\\u` escapes (an "ASCII-safe" copy of the body, kept for its logs), not over the bytes
received. Whitespace and key order survive, so every ASCII body verifies and it looks right;
an authentic delivery whose text is not ASCII (a name such as "Zoë", sent as UTF-8 the way
GitHub and Stripe send it) is refused, retried and finally dropped."""

from __future__ import annotations

import re

from github_sync import GitHubSync

NON_ASCII = re.compile(r"[^\x00-\x7f]")


class AsciiEscapesBeforeVerify(GitHubSync):
    def _signed_bytes(self, raw: bytes) -> bytes:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        return NON_ASCII.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("ascii")
