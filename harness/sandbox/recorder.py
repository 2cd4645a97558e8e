"""The request log: what the connector did, as the sandbox saw it. Checks judge from this.

Credentials in headers, query strings and bodies are masked, and only a digest of the body is
kept. What kind of credential was sent where is recorded instead. One field keeps what the
connector sent: `raw_query`, the query string unmasked, so SEC-01 can judge a credential in a URL
from the URL as sent (served only to the admin API, never rendered: `LoggedRequest` keeps it out
of its repr, lines and summaries).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Container
from dataclasses import asdict, dataclass, field
from typing import Any

SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
SECRET_PARAMS = {"access_token", "token", "bearer", "client_secret", "api_key", "apikey", "key", "password"}


def mask(value: str) -> str:
    return "****" if len(value) < 12 else f"{value[:4]}****"


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            out[name] = f"{scheme} {mask(rest)}" if rest else mask(value)
        else:
            out[name] = value
    return out


def mask_query(query: dict[str, list[str]], secrets: Container[str] = ()) -> dict[str, list[str]]:
    """Mask credential parameters by name, and any value that is one of the tenant's secrets."""
    return {
        k: [mask(v) if k.lower() in SECRET_PARAMS or v in secrets else v for v in vs]
        for k, vs in query.items()
    }


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class RequestRecord:
    seq: int
    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body_digest: str
    body_size: int
    operation: str | None
    status: int = 0
    latency_ms: float = 0.0
    violations: list[dict[str, str]] = field(default_factory=list)
    response_violations: list[dict[str, str]] = field(default_factory=list)
    repair: str = ""  # "repaired" / "regenerated": the answer was fixed to conform before it was sent
    auth: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    held_ms: float = 0.0  # a stall or trickle: how long the answer was held, until the end or the client left
    abandoned: bool = False  # the client closed the connection before the answer was complete
    raw_query: str = ""  # the query string as sent, unmasked: for SEC-01's judgement, never shown

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Append-only and thread-safe: the server thread writes while a check reads."""

    def __init__(self) -> None:
        self._entries: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def append(self, entry: RequestRecord) -> None:
        with self._lock:
            self._entries.append(entry)

    def next_seq(self) -> int:
        """Numbered when the request arrives, so the log reads in arrival order."""
        with self._lock:
            return next(self._seq)

    def since(self, seq: int = 0) -> list[RequestRecord]:
        with self._lock:
            return sorted((e for e in self._entries if e.seq > seq), key=lambda e: e.seq)

    def __len__(self) -> int:
        return len(self._entries)
