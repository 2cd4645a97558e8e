"""The control API under `/_sandbox`: how tests and checks drive the sandbox.

`contracts/sandbox-control.openapi.yaml` is both its documentation and its validator: every
request is routed and validated by the contract engine, as a platform request is, before a
handler runs. So a handler reads values of the documented types and ranges, and checks only
what the document cannot say (a collection the platform contract lacks, a secret the signer
refuses). A new operation is a path in the contract and one `@handles("operationId")` function.

Every operation the contract secures (all but `health`) needs the admin bearer token, compared
in constant time; tenant tokens never open it.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from standardwebhooks.webhooks import Webhook
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.contract import Contract, Violation, bundled_contract_path, load, validate_request
from harness.contract.evolve import Evolution
from harness.core.errors import HarnessError
from harness.sandbox import auth
from harness.sandbox.audit import key_id, verify
from harness.sandbox.faults import FaultError
from harness.sandbox.problems import json_response, problem
from harness.sandbox.store import MemoryStore
from harness.sandbox.tenants import DEFAULT_RATE, QuotaExceeded
from harness.synth import Change, SynthError, fit_sizes, rfc3339

if TYPE_CHECKING:
    from harness.sandbox.app import Sandbox
    from harness.sandbox.tenants import Tenant

CONTROL_CONTRACT = "sandbox-control.openapi.yaml"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@functools.cache
def control_contract() -> Contract:
    """The control API's contract, loaded (and checked) once per process."""
    return load(bundled_contract_path(CONTROL_CONTRACT))


class ControlProblem(HarnessError):
    """A control request the sandbox refuses: answered as problem+json, naming the field if one."""

    def __init__(self, status: int, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.pointer = status, detail, pointer

    def response(self) -> Response:
        violations = [Violation(self.pointer, self.detail)] if self.pointer else None
        return problem(self.status, self.detail, violations=violations)


@dataclass
class Call:
    """One validated control request: its body as a JSON object ({} when none was sent)."""

    sandbox: Sandbox
    request: Request
    operation: str
    path_params: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any]
    found: Tenant | None = None

    @property
    def tenant(self) -> Tenant:
        if self.found is None:  # pragma: no cover - dispatch looks every {tenant} up first
            raise ControlProblem(404, f"{self.operation} is not an operation on a tenant")
        return self.found

    def integer(self, name: str, default: int) -> int:
        """A query parameter the contract has already checked is one integer in range."""
        given = self.query.get(name)
        return int(given[-1]) if given else default

    def collection(self) -> str:
        name = self.path_params["collection"]
        if name not in self.tenant.data.dataset.collections:
            known = sorted(self.tenant.data.dataset.collections)
            raise ControlProblem(404, f"no collection {name!r}; the contract has {known}")
        return name


Handler = Callable[[Call], Response]
HANDLERS: dict[str, Handler] = {}


def handles(*operation_ids: str) -> Callable[[Handler], Handler]:
    """Register a handler for operations of the control contract (the method tells them apart)."""

    def register(handler: Handler) -> Handler:
        for operation_id in operation_ids:
            HANDLERS[operation_id] = handler
        return handler

    return register


def control_routes(sandbox: Sandbox) -> list[Route]:
    """One route for the whole API: the contract's router, not Starlette's, picks the operation."""
    contract = control_contract()
    missing = sorted({op.operation_id for op in contract.operations} - set(HANDLERS))
    if missing:  # pragma: no cover - a contract operation without a handler is a programming error
        raise RuntimeError(f"the control contract's {missing} have no handler in {__name__}")

    async def endpoint(request: Request) -> Response:
        try:
            call = await _validated(sandbox, contract, request)
            return HANDLERS[call.operation](call)
        except ControlProblem as refused:
            return refused.response()

    return [Route("/{rest:path}", endpoint, methods=METHODS)]


async def _validated(sandbox: Sandbox, contract: Contract, request: Request) -> Call:
    """Route, authorize, then validate a request (the body is read only for the admin); a
    refusal is raised as the problem to answer."""
    path = "/" + request.path_params["rest"]
    routed = contract.router.match(request.method, path)
    if routed is None:
        raise _Unrouted(request.method, path, contract.router.allowed(path))
    if not routed.operation.public and not _is_admin(sandbox, request):
        raise _Unauthorized()
    body = await request.body()
    headers = dict(request.headers)
    if body and "content-type" not in headers:
        headers["content-type"] = "application/json"  # a bare body is read as JSON, as documented
    query = {k: request.query_params.getlist(k) for k in request.query_params}
    match, violations = validate_request(contract, request.method, path, query, headers, body)
    if match is None or violations:
        raise _Invalid(violations)
    call = Call(sandbox, request, match.operation.operation_id, match.path_params, query, _object(body))
    if "tenant" in match.path_params:
        call.sandbox = sandbox.holder(match.path_params["tenant"])  # an evolved tenant's own sandbox
        call.found = call.sandbox.tenants.get(match.path_params["tenant"])
        if call.found is None:
            raise ControlProblem(404, f"no tenant {match.path_params['tenant']!r}")
    return call


class _Invalid(ControlProblem):
    """A request that breaks the control contract: every violation, each with its pointer.

    A malformed query or path parameter, or a body that is not a JSON object, is a 400; a JSON
    object with unknown, missing, mistyped or out-of-range fields is a 422 (as the contract says).
    """

    def __init__(self, violations: list[Violation]) -> None:
        status = 422 if all(_is_field(v) for v in violations) else 400
        super().__init__(status, "; ".join(str(v) for v in violations))
        self.violations = violations

    def response(self) -> Response:
        return problem(self.status, self.detail, violations=self.violations)


def _is_field(violation: Violation) -> bool:
    """A violation of the body's schema by a value inside the object, not by the body as a whole."""
    if not violation.pointer.startswith("/body") or not violation.schema_pointer:
        return False
    return violation.pointer != "/body" or violation.schema_pointer.rpartition("/")[2] != "type"


class _Unauthorized(ControlProblem):
    def __init__(self) -> None:
        super().__init__(401, "the control API needs the sandbox's admin token")

    def response(self) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="sandbox-control"'}
        return problem(self.status, self.detail, headers=headers)


class _Unrouted(ControlProblem):
    """An unknown path is a 404; a known one asked with another method a 405 listing `Allow`."""

    def __init__(self, method: str, path: str, allowed: list[str]) -> None:
        if allowed:
            super().__init__(405, f"{method} is not allowed on {path}; it takes {', '.join(allowed)}")
        else:
            super().__init__(404, f"{path} is not a path of the control API")
        self.allowed = allowed

    def response(self) -> Response:
        headers = {"Allow": ", ".join(self.allowed)} if self.allowed else None
        return problem(self.status, self.detail, headers=headers)


def _is_admin(sandbox: Sandbox, request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), sandbox.admin_token.encode())


def _object(body: bytes) -> dict[str, Any]:
    """The validated body: the contract has checked it is a JSON object when there is one."""
    value = json.loads(body) if body else {}
    return value if isinstance(value, dict) else {}


# -- handlers, one per operation of contracts/sandbox-control.openapi.yaml --------------------------


@handles("health")
def health(call: Call) -> Response:
    sandbox = call.sandbox
    try:
        count = len(sandbox.tenants)
    except Exception as exc:  # a store that cannot answer: not ready (readiness probes look here)
        raise ControlProblem(503, f"the tenant store cannot be reached: {type(exc).__name__}") from None
    return json_response({"status": "ok", "tenants": count, "contract": sandbox.contract.title})


@handles("createTenant")
def create_tenant(call: Call) -> Response:
    sandbox, spec = call.sandbox, call.body
    if "evolve" in spec:  # served from the contract's next additive version (harness.contract.evolve)
        if not isinstance(sandbox.tenants.store, MemoryStore):
            raise ControlProblem(
                422,
                "evolve needs a single-process sandbox: an evolved tenant lives in this process's "
                "memory, which the other workers sharing the store cannot see; serve without "
                "--workers/--store to certify change tolerance",
                "/body/evolve",
            )
        sandbox = sandbox.evolution(int(spec["evolve"]))
    scopes = spec.get("scopes")
    try:
        # a collection whose ids hold fewer records than asked gets as many as fit (a quarter of
        # a small id space left free for creates); `fitted` in the answer says which and why
        asked = {name: int(n) for name, n in (spec.get("sizes") or {}).items()}
        sizes, fitted = fit_sizes(sandbox.contract, asked)
        tenant, client = sandbox.tenants.create(
            seed=int(spec.get("seed", sandbox.default_seed)),  # a JSON integer may be written 1.0
            profile=spec.get("profile", "small"),
            sizes=sizes,
            token_ttl=int(spec.get("token_ttl", 3600)),
            scopes=frozenset(scopes) if scopes is not None else None,
            rate_limit=_rate_limit(spec.get("rate_limit") or {}),
            ttl=int(spec["ttl"]) if "ttl" in spec else None,
            owner=key_id(sandbox.admin_token.encode()),
            adversarial=bool(spec.get("adversarial", True)),
            lenient_ids=bool(spec.get("lenient_ids", False)),
            client_secret=spec.get("client_secret"),
        )
    except SynthError as exc:
        raise ControlProblem(422, str(exc)) from None
    except QuotaExceeded as exc:
        raise ControlProblem(429, f"{exc}; delete one first (DELETE /_sandbox/tenants/{{id}})") from None
    url = call.request.url
    root = str(call.request.base_url).rstrip("/") + f"/t/{tenant.id}"
    base = root + sandbox.contract.base_path
    token_path = sandbox.contract.token_url_path  # served there, in the contract's paths or not
    refresh = _refresh_token(sandbox.contract, tenant, client)
    return json_response(
        {
            **tenant.describe(),
            "base_url": base,
            "token_url": root + token_path if token_path else None,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": refresh,
            "scopes": sorted(client.scopes),
            "host_url": f"{url.scheme}://{tenant.id}.localhost:{url.port or 80}" + sandbox.contract.base_path,
            "credentials": auth.credentials(sandbox.contract, client),
            "fitted": fitted,
            "evolved": _evolved(sandbox.contract),
        },
        201,
    )


def _evolved(contract: Contract) -> dict[str, Any] | None:
    """What the tenant's contract adds to the published one (None: it is the published one)."""
    found = Evolution.of(contract)
    return found.to_dict() if found else None


def _rate_limit(limit: dict[str, Any]) -> tuple[float, int]:
    return float(limit.get("rate", DEFAULT_RATE[0])), int(limit.get("burst", DEFAULT_RATE[1]))


@handles("getTenant", "deleteTenant")
def tenant(call: Call) -> Response:
    if call.request.method == "DELETE":
        call.sandbox.tenants.delete(call.tenant.id)
        return Response(status_code=204)
    return json_response(call.tenant.describe())


@handles("listRequests")
def requests(call: Call) -> Response:
    entries = call.tenant.requests.since(call.integer("since", 0))
    return json_response({"data": [e.to_dict() for e in entries]})


@handles("listRecords", "createRecord")
def records(call: Call) -> Response:
    """Ground truth: the tenant's current records, in list order (GET); plant a record (POST)."""
    name, data = call.collection(), call.tenant.data
    if call.request.method == "POST":
        return json_response(data.create(name, call.body), 201)
    page, _ = data.page(name, data.key_at(name, call.integer("offset", 0)), call.integer("limit", 1000))
    return json_response({"data": page, "total": data.count(name)})


@handles("updateRecord", "deleteRecord")
def change_record(call: Call) -> Response:
    name, data = call.collection(), call.tenant.data
    record_id = _record_id(call.tenant, name, call.path_params["record"])
    if call.request.method == "DELETE":
        if not data.delete(name, record_id):
            raise ControlProblem(404, f"no {name} record {record_id!r}")
        return Response(status_code=204)
    record = data.update(name, record_id, call.body)
    if not record:
        raise ControlProblem(404, f"no {name} record {record_id!r}")
    return json_response(record)


@handles("advanceClock")
def clock(call: Call) -> Response:
    call.tenant.data.advance(float(call.body.get("advance", 0)))
    return json_response(call.tenant.describe())


@handles("churn")
def churn(call: Call) -> Response:
    tenant, spec = call.tenant, call.body
    collections = spec.get("collections") or None
    unknown = sorted(set(collections or ()) - set(tenant.data.dataset.collections))
    if unknown:
        known = sorted(tenant.data.dataset.collections)
        raise ControlProblem(422, f"no collection {unknown}; the contract has {known}", "/body/collections")
    made = tenant.data.churn(
        int(spec.get("n", 10)), seed=int(spec.get("seed", tenant.seed)), collections=collections
    )
    return json_response({"data": [_change(c, tenant) for c in made]})


@handles("listChanges")
def changes(call: Call) -> Response:
    made = call.tenant.data.changes_since(call.integer("since", 0))
    return json_response({"data": [_change(c, call.tenant) for c in made]})


@handles("getFaults", "setFaults", "clearFaults")
def faults(call: Call) -> Response:
    tenant = call.tenant
    if call.request.method == "DELETE":
        tenant.faults.clear()
        tenant.audit.record("faults.cleared")
        return Response(status_code=204)
    if call.request.method == "GET":
        return json_response({"rules": [r.to_dict() for r in tenant.faults.rules]})
    operations = [op.operation_id for op in call.sandbox.contract.operations]
    try:
        rules = tenant.faults.set(call.body.get("rules", []), operations)
    except FaultError as exc:  # what the schema cannot know: the platform's operation ids
        raise ControlProblem(422, str(exc)) from None
    tenant.audit.record("faults.set", rules=[r.to_dict() for r in rules])
    return json_response({"rules": [r.to_dict() for r in rules]})


def _refresh_token(contract: Any, tenant: Any, client: Any) -> str | None:
    """A refresh token for an authorization code contract, as if a user had authorized the client."""
    if "refresh_token" not in auth.grant_types(contract):
        return None
    return tenant.issue_refresh_token(client).value


@handles("issueRefreshToken")
def refresh_token(call: Call) -> Response:
    """One more authorization of the tenant's client: each connector the harness builds gets its
    own refresh token, so two connectors on one tenant never spend each other's."""
    tenant, client_id = call.tenant, call.body.get("client_id")
    client = tenant.clients.get(client_id) if client_id else next(iter(tenant.clients.values()), None)
    if client is None:
        raise ControlProblem(404, f"no client {client_id!r} in this tenant")
    value = _refresh_token(call.sandbox.contract, tenant, client)
    if value is None:
        raise ControlProblem(
            409, "the contract declares no OAuth2 authorizationCode flow, so there are no refresh tokens"
        )
    return json_response({"refresh_token": value}, 201)


@handles("revokeCredentials")
def revoke(call: Call) -> Response:
    client_id = call.body.get("client_id")
    if client_id is not None and client_id not in call.tenant.clients:
        raise ControlProblem(404, f"no client {client_id!r} in this tenant")
    return json_response({"revoked_tokens": call.tenant.revoke(client_id)})


@handles("listSubscriptions", "subscribe")
def subscribe(call: Call) -> Response:
    tenant, spec = call.tenant, call.body
    if call.request.method == "GET":
        return json_response({"data": [s.describe() for s in tenant.webhooks.subscriptions]})
    known = [w.path for w in call.sandbox.contract.webhooks]
    types = spec.get("types") or known
    unknown = sorted(set(types) - set(known))
    if unknown:
        raise ControlProblem(422, f"event types are from {known}; unknown: {unknown}", "/body/types")
    secret = spec.get("secret")
    problem = tenant.webhooks.secret_problem(types, secret) if secret is not None else None
    if problem is None and secret is not None and tenant.webhooks.standard(types) and not _signs(secret):
        problem = "a Standard Webhooks secret is whsec_<base64>"
    if problem is not None:
        raise ControlProblem(422, f"secret: {problem}", "/body/secret")
    sub = tenant.webhooks.subscribe(types, url=spec["url"], secret=secret)
    tenant.audit.record("webhook.subscribed", subscription=sub.id, url=sub.url, types=sorted(sub.types))
    return json_response(sub.describe(), 201)


@handles("listDeliveries")
def deliveries(call: Call) -> Response:
    return json_response({"data": call.tenant.webhooks.log()})


@handles("getAudit")
def audit(call: Call) -> Response:
    call.tenant.complete_audit()  # a change whose entry a killed replica never wrote gets it now
    log = call.tenant.audit
    entries = log.entries()
    return json_response(
        {"data": entries, "problems": verify(entries, log.key), "head": log.head(), "key_id": key_id(log.key)}
    )


def _signs(secret: str) -> bool:
    """A Standard Webhooks secret has to be one its reference library accepts too."""
    try:
        Webhook(secret)
    except Exception:  # the library's errors share no base class; any means the secret is unusable
        return False
    return True


def _record_id(tenant: Tenant, collection: str, raw: str) -> Any:
    """The record id as the collection types it: integer ids come as digits in the path."""
    schema = tenant.data.dataset.collections[collection].id_schema
    return int(raw) if schema.get("type") == "integer" and raw.lstrip("-").isdigit() else raw


def _change(change: Change, tenant: Tenant) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "time": rfc3339(change.time),
        "type": change.type,
        "collection": change.collection,
        "id": change.id,
        "by": tenant.change_by.get(change.seq, "harness"),
        "record": change.record,
    }
