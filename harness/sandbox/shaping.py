"""Adversarial within the contract: the transport a real platform's answers take, seeded.

Real APIs compress what they send to a client that accepts it, stream bodies in chunks, add
headers of their own and, where their contract allows, say `Retry-After` as an HTTP date. A
connector that only ever met identity-encoded, Content-Length-framed answers carrying exactly
the documented headers has not met a real platform. Each behaviour is drawn from the request's
seed (the tenant's seed and the request itself): on by default, reproducible, and never outside
what the contract allows. An undocumented response header is allowed by OpenAPI (one the
contract declares anywhere is never added); encoding and framing are HTTP's, not the
contract's; a date in `Retry-After` only where the contract's schema for it accepts a string.
"""

from __future__ import annotations

import email.utils
import gzip
import math
import random
import time
from collections.abc import Mapping

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from harness.contract import Contract
from harness.contract.model import Operation

# how often each behaviour shows (per request, drawn from its seed)
CHANCE = {"gzip": 0.5, "chunked": 0.5, "header": 0.5, "retry_date": 0.5}
MIN_GZIP = 64  # bytes: a platform does not compress a tiny body
# headers real platforms add to every answer; names a platform could use, naming no harness
EXTRA_HEADERS = ("x-request-id", "x-runtime", "server-timing", "x-content-type-options")
PLAIN = (Response, JSONResponse)  # answers whose body is complete and unframed (no fault's wrapper)
# scripted faults whose answer is an ordinary one (a 429 or 503, a slow answer): shaped like any
# other, so RES-01's 429s say Retry-After as a date too; a cut or dropped body is sent as scripted
SHAPED_FAULTS = frozenset({"status", "status_after", "latency", "expire_token", "churn"})


def draw(seed: int, what: str) -> bool:
    """Does this request get this behaviour? Reproducible from its seed, independent per behaviour."""
    return random.Random(f"{seed}:{what}").random() < CHANCE[what]


def accepts_gzip(accept_encoding: str) -> bool:
    """Did the client say it takes gzip (RFC 9110 12.5.3: `gzip`, `*`, a q-value above 0)?"""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding.strip().lower() in ("gzip", "x-gzip", "*") and q > 0:
            return True
    return False


def declared_headers(contract: Contract) -> frozenset[str]:
    """Every response header name the contract declares, on any operation (lower case)."""
    return frozenset(name for op in contract.operations for r in op.responses.values() for name in r.headers)


def retry_after_takes_a_date(contract: Contract, op: Operation | None, status: int) -> bool:
    """Does the contract's schema for this answer's Retry-After accept an HTTP date (a string)?
    An integer schema (`Wait Retry-After seconds`) keeps the seconds."""
    response = op.response_for(status) if op is not None else None
    if response is None or "retry-after" not in response.headers:
        return False
    _required, uri = response.headers["retry-after"]
    if uri is None:
        return True  # declared without a schema: RFC 9110's either form
    schema, _ = contract.deref({"$ref": uri}, uri)
    sample = email.utils.formatdate(0, usegmt=True)
    return not list(contract.validator(uri).iter_errors(sample)) if isinstance(schema, dict) else False


class Chunked(Response):
    """The body sent in pieces with chunked transfer coding (no Content-Length), as a platform
    streaming its answer does."""

    def __init__(self, body: bytes, status: int, headers: Mapping[str, str], pieces: int) -> None:
        super().__init__(body, status, headers=dict(headers))
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.pieces = max(1, pieces)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        body = bytes(self.body)
        size = max(1, math.ceil(len(body) / self.pieces))
        for start in range(0, len(body), size):
            await send({"type": "http.response.body", "body": body[start : start + size], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def shape(
    contract: Contract,
    op: Operation | None,
    response: Response,
    seed: int,
    request_headers: Mapping[str, str],
    http_version: str,
    method: str,
    declared: frozenset[str],
) -> Response:
    """The answer as a real platform would send it: maybe gzip (when accepted), chunked (HTTP/1.1),
    with an extra header of its own, and Retry-After as a date (where the contract allows)."""
    if type(response) not in PLAIN or method == "HEAD" or response.status_code in (204, 304):
        return response
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    body = bytes(response.body)
    rng = random.Random(f"{seed}:values")
    if draw(seed, "header"):
        name = rng.choice([h for h in EXTRA_HEADERS if h not in declared and h not in headers] or [""])
        if name:
            headers[name] = _value(name, rng)
    retry = headers.get("retry-after", "")
    if (
        retry.isdigit()
        and draw(seed, "retry_date")
        and retry_after_takes_a_date(contract, op, response.status_code)
    ):
        # whole seconds, rounded up: a client that waits until the date waits at least as long
        headers["retry-after"] = email.utils.formatdate(math.ceil(time.time()) + int(retry) + 1, usegmt=True)
    if (
        len(body) >= MIN_GZIP
        and accepts_gzip(request_headers.get("accept-encoding", ""))
        and draw(seed, "gzip")
    ):
        body = gzip.compress(body, compresslevel=5, mtime=0)
        headers["content-encoding"] = "gzip"
        headers["vary"] = "Accept-Encoding"
    if http_version == "1.1" and body and draw(seed, "chunked"):
        return Chunked(body, response.status_code, headers, pieces=rng.randint(2, 5))
    return Response(body, response.status_code, headers=headers)


def _value(name: str, rng: random.Random) -> str:
    if name == "x-request-id":
        return f"{rng.getrandbits(128):032x}"
    if name == "x-runtime":
        return f"{rng.uniform(0.001, 0.2):.6f}"
    if name == "server-timing":
        return f"app;dur={rng.uniform(1, 90):.1f}"
    return "nosniff"
