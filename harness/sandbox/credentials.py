"""Credentials in the platform's own formats, so a connector cannot tell the sandbox by its keys.

A tenant's client id, client secret (the API key, the static bearer token, the basic password)
and access tokens take the format the contract gives them: an `x-sandbox: {credential: ...}`
hint on the security scheme, or what the contract implies (a bearer scheme's `bearerFormat: JWT`;
for HTTP basic, the path parameter the username fills, such as Twilio's `AccountSid`, `^AC[0-9a-
fA-F]{32}$`). Otherwise they are opaque letters and digits with no prefix that names anything.

Values are drawn with the project's regex sampler from a keyed stream: the seed and the
tenant's own random key fix them, so a run is reproducible from both while two tenants created
with one seed never share a credential, and nobody who knows only the seed can derive one.
"""

from __future__ import annotations

import base64
import functools
import hmac
import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.contract import Contract, ContractError, Problem
from harness.contract.pointer import join
from harness.synth.regex import PatternSampler, UnsupportedPattern, compile_pattern, sample, translate

HINT = "x-sandbox"
ROLES = ("client_id", "client_secret", "access_token")
KINDS = ("jwt", "uuid")
SPEC_KEYS = ("pattern", "format", "example")  # the `format`s a hint may name
DRAWS = 24  # tries for one value before the pattern counts as one the sandbox cannot draw from
MIN_SECRET = 16  # characters: a shorter secret could be guessed
MIN_MASKED = 12  # a shape matching shorter text would mask ordinary words
# Text a credential can travel in: a header value, a basic-auth pair, a cookie, a query string.
USABLE = re.compile(r"[!#-+\--9<-~]+")  # printable ASCII without space " , : ;
ACCOUNT_PARAMS = ("account", "accountid", "accountsid")
EDGE = "A-Za-z0-9_-"
JWT = re.compile(rf"eyJ[{EDGE}]+\.eyJ[{EDGE}]+\.[{EDGE}]+")


@dataclass(frozen=True)
class Format:
    """How one credential looks: a regular expression, or a structured kind (`jwt`, `uuid`)."""

    pattern: str = ""
    kind: str = "pattern"
    source: str = "default"  # the JSON pointer it was declared (or implied) at

    def draw(self, rng: random.Random, low: int = 0) -> str | None:
        """A fresh value of the pattern from `rng`, at least `low` characters, or None. (Not the
        sampler's fallback pool: a few fixed values would be guessable secrets.)"""
        sampler = _sampler(self.pattern)
        for attempt in range(DRAWS):
            value = sample(sampler.parsed, rng, 3 + 2 * attempt)
            if len(value) >= low and sampler.ok(value):
                return value
        return None

    def regex(self) -> re.Pattern[str]:
        """What a value of this format looks like inside other text (anchors removed)."""
        return _regex(self)


@functools.lru_cache(maxsize=256)
def _sampler(pattern: str) -> PatternSampler:
    return PatternSampler(pattern, accept=lambda value: USABLE.fullmatch(value) is not None)


@functools.lru_cache(maxsize=256)
def _regex(fmt: Format) -> re.Pattern[str]:
    if fmt.kind == "jwt":
        return re.compile(rf"(?<![A-Za-z0-9_.-]){JWT.pattern}")
    if fmt.kind == "uuid":
        return re.compile(r"(?<![0-9A-Za-z-])[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}(?![0-9A-Za-z-])")
    body = re.sub(r"^(?:\^|\\A)|(?<!\\)(?:\$|\\[zZ])$", "", fmt.pattern)
    return re.compile(rf"(?<![{EDGE}])(?:{translate(body)})(?![{EDGE}])")


DEFAULTS = {
    "client_id": Format("^[A-Za-z0-9]{20}$"),
    "client_secret": Format("^[A-Za-z0-9]{40}$"),
    "access_token": Format("^[A-Za-z0-9]{43}$"),  # no `_`: SEC-01 reads a prefix before one
}


@dataclass(frozen=True)
class Formats:
    """The formats of a tenant's three credentials."""

    client_id: Format = DEFAULTS["client_id"]
    client_secret: Format = DEFAULTS["client_secret"]
    access_token: Format = DEFAULTS["access_token"]

    def secret(self) -> list[Format]:
        return [self.client_secret, self.access_token]


def contract_formats(contract: Contract) -> Formats:
    """The credential formats a contract declares or implies; a ContractError for a bad hint."""
    found, problems = _formats(contract)
    if problems:
        raise ContractError(contract.file, problems)
    return found


def credential_problems(contract: Contract) -> list[Problem]:
    """What is wrong with the contract's credential hints (for `harness contract lint`)."""
    return _formats(contract)[1]


def _formats(contract: Contract) -> tuple[Formats, list[Problem]]:
    chosen: dict[str, Format] = {}
    problems: list[Problem] = []
    for name, scheme in contract.security_schemes.items():
        pointer = join("components", "securitySchemes", name)
        implied = {**_implied(contract, name, scheme, pointer), **_hinted(scheme, pointer, problems)}
        for role, fmt in implied.items():
            if role not in chosen:  # the first scheme that says anything about a role wins
                problem = _unusable(fmt, role)
                if problem:
                    problems.append(Problem(fmt.source, problem, _FIX))
                else:
                    chosen[role] = fmt
    return Formats(**chosen), problems


_FIX = (
    "give the credential a pattern of printable ASCII without spaces, quotes, commas, colons or "
    'semicolons, e.g. `x-sandbox: {credential: {pattern: "^sk_test_[A-Za-z0-9]{24}$"}}`'
)


def _hinted(scheme: dict[str, Any], pointer: str, problems: list[Problem]) -> dict[str, Format]:
    """`x-sandbox: {credential: SPEC}` or `{credential: {client_id: SPEC, ...}}`; a SPEC is a
    pattern string or `{pattern: P}`, `{format: jwt|uuid}`, `{example: VALUE}`."""
    hints = scheme.get(HINT)
    hint = hints.get("credential") if isinstance(hints, dict) else None
    if hint is None:
        return {}
    at = pointer + join(HINT, "credential")
    if isinstance(hint, dict) and set(hint) & set(ROLES):
        unknown = sorted(set(hint) - set(ROLES))
        if unknown:
            problems.append(Problem(at, f"unknown credential role(s) {', '.join(unknown)}", _ROLES_FIX))
        specs = {role: (hint[role], at + join(role)) for role in ROLES if role in hint}
    else:
        specs = {role: (hint, at) for role in _carried(scheme)}
    out = {}
    for role, (spec, where) in specs.items():
        fmt = _spec(spec, where, problems)
        if fmt is not None:
            out[role] = fmt
    return out


_ROLES_FIX = f"name the credentials {', '.join(ROLES)}, or give one spec for the scheme's own credential"


def _carried(scheme: dict[str, Any]) -> tuple[str, ...]:
    """The credential a scheme's requests carry: the key, the static bearer, the basic password,
    or (OAuth2) the access token."""
    kind, http = scheme.get("type"), str(scheme.get("scheme", "")).lower()
    if kind in ("oauth2", "openIdConnect"):
        return ("access_token",)
    if kind == "http" and http == "bearer":
        return ("client_secret", "access_token")
    return ("client_secret",)


def _spec(spec: Any, where: str, problems: list[Problem]) -> Format | None:
    if isinstance(spec, str):
        spec = {"pattern": spec}
    if (
        not isinstance(spec, dict)
        or len(spec) != 1
        or next(iter(spec)) not in ("pattern", "format", "example")
    ):
        problems.append(
            Problem(where, "a credential spec is a pattern, or one of {pattern}, {format}, {example}", _FIX)
        )
        return None
    ((key, value),) = spec.items()
    where += join(key)
    if not isinstance(value, str) or not value:
        problems.append(Problem(where, f"{key} must be a non-empty string", _FIX))
        return None
    if key == "format":
        if value.lower() not in KINDS:
            problems.append(Problem(where, f"unknown credential format {value!r}", f"use one of {KINDS}"))
            return None
        return Format(kind=value.lower(), source=where)
    if key == "example" and JWT.fullmatch(value):
        return Format(kind="jwt", source=where)
    return Format(value if key == "pattern" else pattern_of(value), source=where)


def pattern_of(example: str) -> str:
    """A pattern for values shaped like `example`: its prefix (up to the last `_` or `-` in its
    first half) kept, the rest drawn from the narrowest class that holds it, at its length."""
    cut = max(example.rfind("_", 0, len(example) // 2 + 1), example.rfind("-", 0, len(example) // 2 + 1))
    prefix, body = example[: cut + 1], example[cut + 1 :]
    for chars in ("0-9", "0-9a-f", "0-9A-F", "0-9a-fA-F", "a-z0-9", "A-Z0-9", "A-Za-z0-9", EDGE):
        if body and re.fullmatch(f"[{chars}]+", body):
            return f"^{re.escape(prefix)}[{chars}]{{{len(body)}}}$"
    return f"^{re.escape(example)}$"


def _implied(contract: Contract, name: str, scheme: dict[str, Any], pointer: str) -> dict[str, Format]:
    kind, http = scheme.get("type"), str(scheme.get("scheme", "")).lower()
    if kind == "http" and http == "bearer" and "jwt" in str(scheme.get("bearerFormat", "")).lower():
        fmt = Format(kind="jwt", source=pointer + join("bearerFormat"))
        return {"client_secret": fmt, "access_token": fmt}
    if kind == "http" and http == "basic":
        username = _username_parameter(contract, name)
        if username:
            return {"client_id": username}
    return {}


def _username_parameter(contract: Contract, scheme_name: str) -> Format | None:
    """The path parameter a basic scheme's username fills, when it has a pattern: the one the
    scheme is named after (`accountSid_authToken`), or the account (`{AccountSid}`)."""
    first = _plain(re.split(r"[_:]", scheme_name)[0])
    found: Counter[tuple[str, str]] = Counter()
    for op in contract.operations:
        for param in op.parameters:
            pattern = param.schema.get("pattern") if isinstance(param.schema, dict) else None
            named = _plain(param.name) in (first, *ACCOUNT_PARAMS)
            if param.location == "path" and isinstance(pattern, str) and named:
                found[(param.name, pattern)] += 1
    if not found:
        return None
    (param_name, pattern), _ = found.most_common(1)[0]
    return Format(pattern, source=f"path parameter {{{param_name}}}")


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _unusable(fmt: Format, role: str) -> str | None:
    """Why no credential of this role can take the format, or None when one can."""
    if fmt.kind != "pattern":
        return None
    low = _least(role)
    try:
        probes = [fmt.draw(KeyedRandom(b"probe%d" % n), low) for n in range(4)]
    except UnsupportedPattern as exc:
        return f"the {role} pattern is not a usable regular expression: {exc}"
    if None in probes:
        return f"the sandbox cannot draw a {role} of at least {low} usable characters from {fmt.pattern!r}"
    return None


def _least(role: str) -> int:
    return 1 if role == "client_id" else MIN_SECRET


class KeyedRandom(random.Random):
    """`random.Random` drawing from HMAC-SHA256 in counter mode: the same key gives the same
    draws, and the draws say nothing about the key (unlike the Mersenne Twister's)."""

    def __init__(self, key: bytes) -> None:
        self._key, self._counter, self._buffer = key, 0, b""
        super().__init__()

    def seed(self, *args: Any, **kwargs: Any) -> None:  # the key is the seed
        pass

    def _bytes(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += hmac.digest(self._key, self._counter.to_bytes(8, "big"), "sha256")
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def getrandbits(self, k: int) -> int:
        if k <= 0:
            return 0
        n = (k + 7) // 8
        return int.from_bytes(self._bytes(n), "big") >> (n * 8 - k)

    def random(self) -> float:
        return self.getrandbits(53) * 2.0**-53

    def getstate(self) -> Any:
        return (self._key, self._counter, self._buffer)

    def setstate(self, state: Any) -> None:
        self._key, self._counter, self._buffer = state


@dataclass
class Minter:
    """Mints one tenant's credentials: deterministic for (formats, seed, key), one stream each."""

    formats: Formats
    seed: int
    key: bytes
    _counter: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    def rng(self, role: str) -> KeyedRandom:
        n = next(self._counter)  # atomic under the GIL: concurrent mints never share a stream
        return KeyedRandom(hmac.digest(self.key, f"credential:{self.seed}:{role}:{n}".encode(), "sha256"))

    def client(self) -> tuple[str, str]:
        """A new (client_id, client_secret)."""
        client_id = self._draw(self.formats.client_id, "client_id", {})
        return client_id, self._draw(self.formats.client_secret, "client_secret", {"sub": client_id})

    def token(self, client_id: str, expires_at: float) -> str:
        """A new access token for the client, valid until `expires_at` (Unix seconds)."""
        claims = {"sub": client_id, "exp": int(expires_at)}
        return self._draw(self.formats.access_token, "access_token", claims)

    def refresh_token(self, client_id: str) -> str:
        """A new refresh token for the client, in the access tokens' format (its own stream)."""
        return self._draw(self.formats.access_token, "refresh_token", {"sub": client_id, "typ": "refresh"})

    def is_token(self, value: str) -> bool:
        """True when `value` has the shape of an access token this platform issues."""
        return self.formats.access_token.regex().fullmatch(value) is not None

    def _draw(self, fmt: Format, role: str, claims: dict[str, Any]) -> str:
        rng = self.rng(role)
        if fmt.kind == "jwt":
            return _jwt(rng, claims)
        if fmt.kind == "uuid":
            return str(_uuid4(rng))
        value = fmt.draw(rng, _least(role))
        if value is None:  # contract_formats probed the pattern; this is all but impossible
            raise ValueError(f"could not draw a {role} matching {fmt.pattern!r}")
        return value


def _jwt(rng: random.Random, claims: dict[str, Any]) -> str:
    """A JWT as issuers make them (ES256, a key id, a unique id); its signature is random bytes:
    the sandbox looks tokens up, it never verifies them."""
    header = {"alg": "ES256", "kid": rng.randbytes(8).hex(), "typ": "JWT"}
    payload = {**claims, "jti": str(_uuid4(rng))}
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, payload)]
    return ".".join(_b64(p) for p in (*parts, rng.randbytes(64)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uuid4(rng: random.Random) -> Any:
    import uuid

    return uuid.UUID(bytes=rng.randbytes(16), version=4)


def mask_patterns(formats: Formats) -> list[re.Pattern[str]]:
    """Patterns for the secret credentials' shapes, for masking text that may carry one the
    harness never saw in full (an access token): only shapes too long to be ordinary words."""
    out: list[Any] = []
    for fmt in formats.secret():
        regex = fmt.regex()
        long_enough = fmt.kind != "pattern" or _min_width(fmt.pattern) >= MIN_MASKED
        if long_enough and regex.pattern not in (p.pattern for p in out):
            out.append(regex)
    return out


def _min_width(pattern: str) -> int:
    return int(compile_pattern(pattern).getwidth()[0])
