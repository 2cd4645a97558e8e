"""What a contract offers certification: the features checks need, or why it lacks one and the fix.

A check says which offers it `requires` (`@check(..., requires=("webhooks",))`); before it runs,
a missing offer makes it *not applicable* with the reason, never a failure the connector gets
blamed for. `harness contract lint` reads the same table to tell a vendor which checks will apply
to its contract and, for each gap, the `x-sandbox` hint or contract change that closes it.

An offer is a function of the contract alone (no manifest, no sandbox), so lint answers it
before any connector exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.contract.collections import find_feed
from harness.contract.model import Contract, Operation


@dataclass(frozen=True)
class Gap:
    """An offer the contract lacks: why (naming what is missing) and how to close it."""

    offer: str
    reason: str
    hint: str  # the change to the contract, with an example

    def __str__(self) -> str:
        return f"{self.reason}; to offer it: {self.hint}"


OfferFunc = Callable[[Contract], "Gap | None"]
OFFERS: dict[str, OfferFunc] = {}


def offer(name: str) -> Callable[[OfferFunc], OfferFunc]:
    """Register the function that says whether a contract offers `name` (None) or a Gap."""

    def register(func: OfferFunc) -> OfferFunc:
        if name in OFFERS:
            raise ValueError(f"offer {name!r} is registered twice")
        OFFERS[name] = func
        return func

    return register


def gap(contract: Contract, name: str) -> Gap | None:
    """The Gap for offer `name` on this contract, None when it is offered."""
    if name not in OFFERS:
        raise KeyError(f"unknown offer {name!r}; known: {', '.join(OFFERS)}")
    return OFFERS[name](contract)


def gaps(contract: Contract) -> dict[str, Gap]:
    """Every offer this contract lacks, by name."""
    found = {name: func(contract) for name, func in OFFERS.items()}
    return {name: g for name, g in found.items() if g is not None}


@offer("collections")
def _collections(contract: Contract) -> Gap | None:
    if contract.collections:
        return None
    return Gap(
        "collections",
        "the contract has no collection (a list GET with an item GET beside it) to sync",
        "document a list operation answering an array of records, e.g. `GET /tickets`, and the item "
        "operation beside it, `GET /tickets/{id}` (a list with no item GET is no collection; "
        "`x-sandbox: {data: FIELD}` on the list GET names the array when the envelope holds several)",
    )


@offer("token_endpoint")
def _token_endpoint(contract: Contract) -> Gap | None:
    if contract.token_url_path is not None:
        return None
    return Gap(
        "token_endpoint",
        "the contract declares no OAuth2 flow with a tokenUrl, so there is no token to obtain or expire",
        "declare an `oauth2` security scheme with a `clientCredentials` (or `authorizationCode`) flow "
        "and its `tokenUrl`",
    )


@offer("scopes")
def _scopes(contract: Contract) -> Gap | None:
    if contract.scopes and any(op.scopes for op in contract.operations):
        return None
    return Gap(
        "scopes",
        "no operation requires an OAuth2 scope, so there is no least privilege to judge",
        "list each operation's scopes in its `security`, e.g. `security: [{oauth2: [tickets.read]}]`",
    )


@offer("webhooks")
def _webhooks(contract: Contract) -> Gap | None:
    if contract.webhooks:
        return None
    return Gap(
        "webhooks",
        "the contract declares no webhooks, so there are no deliveries to make",
        "describe each event under the top-level `webhooks` (OpenAPI 3.1), e.g. `webhooks: "
        "{ticket.created: {post: {requestBody: ...}}}`",
    )


@offer("incremental")
def _incremental(contract: Contract) -> Gap | None:
    if find_feed(contract) is not None:
        return None
    if any(col.since_param for col in contract.collections.values()):
        return None
    return Gap(
        "incremental",
        "the contract offers no change feed and no updated-since filter on any list, so a sync "
        "cannot ask for what changed",
        "mark a change feed with `x-sandbox: {feed: true}`, or give a list an updated-since query "
        "parameter (e.g. `updated_after`, or `x-sandbox: {since: PARAM}` on the list GET)",
    )


@offer("deletions")
def _deletions(contract: Contract) -> Gap | None:
    if find_feed(contract) is not None:
        return None
    return Gap(
        "deletions",
        "the contract offers no change feed, so an incremental sync cannot see deletions (an "
        "updated-since filter lists only records that still exist); records deleted between syncs "
        "are not judged",
        "mark a change feed with `x-sandbox: {feed: true}` whose events carry `type: ticket.deleted`",
    )


@offer("writes")
def _writes(contract: Contract) -> Gap | None:
    if any("create" in col.writes for col in contract.collections.values()):
        return None
    return Gap(
        "writes",
        "no collection has a create operation, so there is nothing to push",
        "document a create, e.g. `POST /tickets` with a request body and a 201 answer",
    )


# the client errors no retry can fix, which RES-06 provokes where an operation documents them
CLIENT_ERRORS = (400, 403, 404, 409, 422)


def client_errors(op: Operation) -> list[int]:
    """The CLIENT_ERRORS an operation documents, exactly or as a 4XX range."""
    return [s for s in CLIENT_ERRORS if str(s) in op.responses or "4XX" in op.responses]


@offer("client_errors")
def _client_errors(contract: Contract) -> Gap | None:
    ops = [op for col in contract.collections.values() for op in (col.list_op, col.create_op) if op]
    if any(client_errors(op) for op in ops):
        return None
    return Gap(
        "client_errors",
        "no list or create operation documents a client error (400, 403, 404, 409, 422), so there "
        "is no refusal whose retries to judge",
        "document the refusals each operation answers with, in your error schema, e.g. "
        "`responses: {'400': {$ref: '#/components/responses/BadRequest'}}` (a `default` response "
        "names no status)",
    )


@offer("credentials")
def _credentials(contract: Contract) -> Gap | None:
    if any(not op.public for op in contract.operations) and contract.security_schemes:
        return None
    return Gap(
        "credentials",
        "no operation requires a credential (no security scheme applies), so there is no "
        "authentication to judge",
        "declare a security scheme and require it, e.g. `components: {securitySchemes: {apiKey: "
        "{type: apiKey, in: header, name: X-API-Key}}}` and `security: [{apiKey: []}]`",
    )


@offer("expiring_tokens")
def _expiring_tokens(contract: Contract) -> Gap | None:
    flows = {
        flow
        for scheme in contract.security_schemes.values()
        if isinstance(scheme, dict) and scheme.get("type") == "oauth2"
        for flow in (scheme.get("flows") or {})
    }
    if contract.token_url_path is not None and flows & {"clientCredentials", "authorizationCode"}:
        return None
    return Gap(
        "expiring_tokens",
        "the contract's credentials are static (an API key, a bearer secret, HTTP basic or a TLS "
        "client certificate): no token expires mid-sync, so there is nothing to renew",
        "declare an `oauth2` scheme with a `clientCredentials` or `authorizationCode` flow and its "
        "`tokenUrl`, e.g. `flows: {authorizationCode: {authorizationUrl: /oauth/authorize, "
        "tokenUrl: /oauth/token, scopes: {}}}`",
    )
