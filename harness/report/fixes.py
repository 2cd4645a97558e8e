"""What to change when a check fails: one sentence per check, for the HTML report and the docs.

docs/connector-protocol.md ("How to fix a failed check") has the same sentence under a heading
per check id, which is where the report links; tests/unit/test_first_hour.py keeps them equal.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.contract import Collection

DOCS_URL = "docs/connector-protocol.md"  # relative to the connector-harness repository

FIXES: dict[str, str] = {
    "AUTH-01": 'Authenticate as the contract\'s security scheme says (see "Per auth scheme"): OAuth2 '
    "tokens from token_url sent only as `Authorization: Bearer <token>`; an API key, bearer secret or "
    "basic pair only in its declared place, never in a query string or a body the contract does not "
    "put it in; a mutualTLS client certificate (`client_cert`, `client_key`) on every connection, "
    "with no credential header beside it.",
    "AUTH-02": "Ask only for the scopes of the operations you call: trim `scopes` in connector.toml.",
    "AUTH-03": "Fetch a new token before `expires_in` runs out, and once more when a call answers 401; "
    "with refresh tokens, always send the newest `refresh_token` the token endpoint answered.",
    "AUTH-04": "When the token endpoint or the API refuses your credentials, raise an error; do not retry.",
    "AUTH-05": "Keep the access token and reuse it until it nears `expires_in`; fetch a new one only "
    "then or after a 401, not for every request or page.",
    "CON-01": "Send only requests the contract allows: check the JSON pointer of each violation "
    "(a limit above the maximum, an unknown parameter, a bad body).",
    "CON-02": "Store records as the platform sent them: keep nulls and types as they are.",
    "CON-03": "Send an Idempotency-Key with every write and a body valid against the contract.",
    "INT-01": "Follow the list's paging (next cursor, offset, page number, `Link` header or "
    "`starting_after`, as the contract pages) to its end and store each record once, with every field.",
    "INT-02": "Save a checkpoint at the end of a sync and, from it, read only the changes since "
    "(the change feed, or the since parameter), deletions included.",
    "INT-03": "Take the feed position (or the updated-since mark) before you start paging, so changes "
    "made while you page come in with the next incremental sync; with offsets or page numbers, also "
    "re-read the end of the page before, where records a deletion moved land.",
    "INT-04": "Checkpoint after storing each page (stream and cursor) and resume from that checkpoint.",
    "INT-05": "Apply every change of the feed in order, and keep the last one for each record.",
    "INT-06": "Keep the same Idempotency-Key when you retry a write.",
    "RES-01": "On a 429 wait the Retry-After seconds, then retry; do not retry sooner.",
    "RES-02": "Retry 5xx responses, dropped connections and cut-off bodies with exponential backoff.",
    "RES-03": "On a 4xx that retrying cannot fix (400, 403, 404, 422), stop with an error.",
    "RES-04": "Handle every schema-valid value: nulls, empty pages, extreme strings and numbers.",
    "RES-05": "Give your HTTP client a connect and read timeout under 30 s, "
    "and retry a request that timed out.",
    "RES-06": "Never retry a 400, 403, 404, 409 or 422, on reads or writes: "
    "fail (or skip the record) naming the status.",
    "WH-01": "Verify the signature (the contract's scheme) over the raw body with webhook_secret, "
    "apply the event, answer 2xx.",
    "WH-02": "Answer 4xx, and change nothing, for a bad or missing signature, id or timestamp, "
    "or a timestamp more than a few minutes off.",
    "WH-03": "Remember the delivery ids (webhook-id, or the scheme's) you applied; "
    "apply a redelivered one no more.",
    "WH-04": "Answer any malformed delivery with a 4xx: never crash, never answer 5xx.",
    "SEC-01": "Never log, store, print or put in a URL a credential: "
    "log that a token was issued, not the token.",
    "SEC-02": "Call no host but base_url and token_url: remove telemetry and third-party calls.",
    "SEC-03": (
        "Keep TLS certificate verification on: never `verify=False`, `CERT_NONE`, "
        "`rejectUnauthorized: false` or `NODE_TLS_REJECT_UNAUTHORIZED=0`."
    ),
    "DATA-01": "Keep only the fields listed under [connector.fields] (and the id) for each stream.",
    "OBS-01": "Log structured records: one JSON object a line on stderr with a level and a message "
    "(or sink.log / LOG messages), never plain text.",
    "OBS-02": "Bind a new `sync_id` at the start of each sync and put it on every log line of that sync.",
    "OBS-03": "Send an `X-Request-Id` (a new UUID per request) on every API request and log it as "
    "`request_id` with the request.",
    "OBS-04": "When a request fails for good, log an error-level line with its status code and its "
    "path (or operationId) before you raise or exit.",
    "CHG-01": "Tolerate the platform's additive changes: ignore (or keep) fields you do not know, store "
    "enum values you do not know as sent, skip change-feed event types you do not know, and never "
    "build records with `Model(**record)` or a model that forbids extra fields.",
    "PERF-01": "Pace requests to the rate limit: use most of the budget, without running into 429s.",
    "PERF-02": "Store records page by page instead of holding the whole account in memory.",
}


# The paging kinds fix texts name (`paging_kind`), and for the checks about paging, what to do
# under each: the certificate records the kinds of the streams a run synced (`contract.paging`).
PAGING_KINDS = ("cursor", "starting_after", "offset", "page number", "Link header")
PAGING_FIXES: dict[str, dict[str, str]] = {
    "INT-01": {
        "cursor": "Send each page's next cursor until a page has none",
        "starting_after": "Pass the last record's id as `starting_after` until `has_more` is false",
        "offset": "Advance the offset by the records each page held until a short page (or the total)",
        "page number": "Ask for the next page number until a short or empty page",
        "Link header": 'Follow the `Link` header\'s `rel="next"` URL until a response has none',
    },
    "INT-03": {
        "cursor": "Take the feed position (or the updated-since mark) before you start paging, so "
        "changes made while you page come in with the next incremental sync",
        "starting_after": "Take the feed position (or the updated-since mark) before you start paging, "
        "so changes made while you page come in with the next incremental sync",
        "offset": "Offsets shift when records before them are deleted while you page: overlap pages "
        "(re-read the last records of the page before), store a record seen twice once, and take the "
        "updated-since mark before paging",
        "page number": "Page numbers shift when records before them are deleted while you page: after "
        "each page re-read the end of the page before (the same offsets at a smaller page size), store "
        "a record seen twice once, and take the updated-since mark per stream",
    },
}


def paging_kind(col: Collection) -> str:
    """How a collection's list pages, as fix texts name it: `page number` (GitHub's `page`, its
    next page named by the `Link` header: `page number, Link header`), `offset`, `cursor`,
    `starting_after` (the last record's id), or `none`."""
    pag = col.pagination
    kind = {"id": "starting_after", "page": "page number"}.get(pag.style, pag.style)
    if pag.link_header:
        return "Link header" if kind == "none" else f"{kind}, Link header"
    return kind


def fix_for(check_id: str, paging: Iterable[str] = ()) -> str | None:
    """The fix for a failed check; for a paging check, said for the paging kinds given (the
    certificate's `contract.paging`), else in general."""
    texts = PAGING_FIXES.get(check_id, {})
    said: list[str] = []
    for kinds in paging:
        parts = [texts[k] for k in str(kinds).split(", ") if k in texts]
        if check_id == "INT-01" and len(parts) > 1:
            parts = parts[-1:]  # the Link header names the next page: follow it
        said += [p for p in parts if p not in said]
    if not said:
        return FIXES.get(check_id)
    tail = ", and store each record once, with every field." if check_id == "INT-01" else "."
    return "; ".join(said) + tail


def docs_anchor(check_id: str) -> str:
    """The link to the check's section of the protocol reference."""
    return f"{DOCS_URL}#{check_id.lower()}"
