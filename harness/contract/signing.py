"""How the platform signs its webhooks, as the contract declares it: `x-sandbox: {signing: ...}`.

At the document root the hint is for every webhook; on a webhook's operation it overrides the
root (keys merge over the root's while the scheme stays the same). Absent: Standard Webhooks.

    x-sandbox:
      signing:
        scheme: hmac                      # standard-webhooks | hmac | timestamped | base-string
        header: X-Hub-Signature-256       # the signature header (not for standard-webhooks)
        prefix: "sha256="                 # hmac, base-string: before the signature
        encoding: hex                     # hmac, base-string: hex (default) | base64
        algorithm: sha256                 # sha256 (default) | sha1
        id_header: X-GitHub-Delivery      # the delivery id receivers dedup by, if the vendor sends one
        # base-string: timestamp_header: X-Slack-Request-Timestamp, base: "v0:{timestamp}:{body}"

A bad hint is a ContractError at load naming the pointer and the fix, so the sandbox never
starts signing in a shape nobody meant.
"""

from __future__ import annotations

import re
from typing import Any

from harness.contract.errors import ContractError, Problem
from harness.contract.model import Contract
from harness.contract.pointer import join, unescape
from harness.core.signing import ALGORITHMS, ENCODINGS, SCHEMES, STANDARD, Signing

HINT = "x-sandbox"
KEYS: dict[str, tuple[str, ...]] = {
    "standard-webhooks": ("scheme",),
    "hmac": ("scheme", "header", "encoding", "prefix", "algorithm", "id_header"),
    "timestamped": ("scheme", "header", "algorithm", "id_header"),
    "base-string": (
        "scheme",
        "header",
        "timestamp_header",
        "base",
        "encoding",
        "prefix",
        "algorithm",
        "id_header",
    ),
}
EXAMPLES = {
    "hmac": '`x-sandbox: {signing: {scheme: hmac, header: X-Hub-Signature-256, prefix: "sha256="}}`',
    "timestamped": "`x-sandbox: {signing: {scheme: timestamped, header: Stripe-Signature}}`",
    "base-string": "`x-sandbox: {signing: {scheme: base-string, header: X-Slack-Signature, "
    'timestamp_header: X-Slack-Request-Timestamp, base: "v0:{timestamp}:{body}", prefix: "v0="}}`',
}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name


def signing_for(contract: Contract, webhook: str | None = None) -> Signing:
    """The scheme deliveries of `webhook` (a name under `webhooks`; None: the root's) are signed
    with. Raises ContractError on a bad hint (load() already refused those)."""
    found, problems = _declared(contract.document, webhook)
    if problems:
        raise ContractError(contract.file, problems)
    return found


def signing_problems(doc: dict[str, Any]) -> list[Problem]:
    """Every bad signing hint of a contract document, each with its pointer and fix."""
    problems = _declared(doc, None)[1]
    for name in doc.get("webhooks") or {}:
        problems += [p for p in _declared(doc, name)[1] if p not in problems]
    return problems


def _declared(doc: dict[str, Any], webhook: str | None) -> tuple[Signing, list[Problem]]:
    problems: list[Problem] = []
    root = _hint(doc, "", problems)
    hint, at = root
    if webhook is not None:
        item = _local((doc.get("webhooks") or {}).get(webhook), doc)
        post = _local(item.get("post"), doc) if isinstance(item, dict) else None
        if isinstance(post, dict):
            own, own_at = _hint(post, join("webhooks", webhook, "post"), problems)
            if own is not None:
                inherited = (hint or {}).get("scheme", "standard-webhooks")
                same = hint is not None and own.get("scheme", inherited) == inherited
                hint, at = ({**hint, **own} if same and hint is not None else own), own_at
    if hint is None or problems:
        return STANDARD, problems
    signing = _parse(hint, at, problems)
    return (signing if not problems and signing is not None else STANDARD), problems


def _local(node: Any, doc: dict[str, Any]) -> Any:
    """A node with its local `$ref` (`#/components/pathItems/...`) followed."""
    for _ in range(8):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target: Any = doc
        for token in ref[2:].split("/"):
            token = unescape(token)
            target = target.get(token) if isinstance(target, dict) else None
        node = target
    return node


def _hint(node: dict[str, Any], pointer: str, problems: list[Problem]) -> tuple[dict[str, Any] | None, str]:
    hints = node.get(HINT)
    if not isinstance(hints, dict) or "signing" not in hints:
        return None, ""
    at = pointer + join(HINT, "signing")
    hint = hints["signing"]
    if not isinstance(hint, dict):
        problems.append(
            Problem(
                at, f"signing is a {type(hint).__name__}, not a mapping", f"write it as {EXAMPLES['hmac']}"
            )
        )
        return None, at
    return hint, at


def _parse(hint: dict[str, Any], at: str, problems: list[Problem]) -> Signing | None:
    scheme = hint.get("scheme", "standard-webhooks")
    if scheme not in SCHEMES:
        problems.append(
            Problem(
                at + "/scheme",
                f"unknown signing scheme {scheme!r}",
                f"use one of {', '.join(SCHEMES)}, e.g. {EXAMPLES['hmac']}",
            )
        )
        return None
    unknown = sorted(set(hint) - set(KEYS[scheme]))
    if unknown:
        fix = (
            "Standard Webhooks headers are fixed (webhook-id, webhook-timestamp, webhook-signature); "
            "drop them, or name another scheme, e.g. " + EXAMPLES["hmac"]
            if scheme == "standard-webhooks"
            else f"{scheme} takes {', '.join(KEYS[scheme])}, e.g. {EXAMPLES[scheme]}"
        )
        problems.append(Problem(at, f"{scheme} signing has no {', '.join(map(repr, unknown))}", fix))
    if scheme == "standard-webhooks":
        return STANDARD
    for key in KEYS[scheme]:
        if key in hint and not isinstance(hint[key], str):
            problems.append(Problem(at + join(key), f"{key} is not a string", f"e.g. {EXAMPLES[scheme]}"))
    if problems:
        return None
    needed = ["header", *(["timestamp_header", "base"] if scheme == "base-string" else [])]
    for key in needed:
        if not hint.get(key):
            problems.append(Problem(at, f"{scheme} signing needs `{key}`", f"e.g. {EXAMPLES[scheme]}"))
    for key in ("header", "timestamp_header", "id_header"):
        value = hint.get(key)
        if value and not _TOKEN.match(value):
            problems.append(
                Problem(at + join(key), f"{value!r} is not an HTTP header name", "letters, digits and -")
            )
    encoding, algorithm = hint.get("encoding", "hex"), hint.get("algorithm", "sha256")
    if encoding not in ENCODINGS:
        problems.append(Problem(at + "/encoding", f"unknown encoding {encoding!r}", "hex or base64"))
    if algorithm not in ALGORITHMS:
        problems.append(Problem(at + "/algorithm", f"unknown algorithm {algorithm!r}", "sha256 or sha1"))
    base = hint.get("base", "")
    if scheme == "base-string" and base and "{body}" not in base:
        problems.append(
            Problem(at + "/base", f"base {base!r} does not contain {{body}}", 'e.g. "v0:{timestamp}:{body}"')
        )
    if problems:
        return None
    return Signing(
        scheme=scheme,
        header=hint["header"],
        encoding=encoding,
        prefix=hint.get("prefix", ""),
        algorithm=algorithm,
        timestamp_header=hint.get("timestamp_header") or None,
        base=base,
        id_header=hint.get("id_header") or None,
    )
