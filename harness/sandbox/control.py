"""The control API under `/_sandbox`: how tests and checks drive the sandbox.

Every route but `health` needs the admin bearer token (compared in constant time); tenant
tokens never open it.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import TYPE_CHECKING, Any

from standardwebhooks.webhooks import Webhook
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.contract import Violation
from harness.core.errors import HarnessError
from harness.sandbox import auth
from harness.sandbox.audit import key_id, verify
from harness.sandbox.faults import FaultError
from harness.sandbox.problems import json_response, problem
from harness.sandbox.tenants import DEFAULT_RATE
from harness.synth import Change, SynthError, rfc3339

if TYPE_CHECKING:
    from harness.sandbox.app import Sandbox


MAX_SEED = 2**63 - 1
MAX_SIZE = 10**9
MAX_TTL = 366 * 86400
MAX_ADVANCE = 10 * 366 * 86400
MAX_CHURN = 10_000
MAX_LIMIT = 10_000
WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/]+={0,2}")


class Invalid(HarnessError, ValueError):
    """A control request that breaks the control API's contract: answered as a problem naming the field."""

    def __init__(self, pointer: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.pointer, self.message, self.status = pointer, message, status


def control_routes(sandbox: Sandbox) -> list[Route]:
    def admin(endpoint, query: tuple[str, ...] = ()):
        async def guarded(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.encode(), sandbox.admin_token.encode()
            ):
                return problem(
                    401,
                    "the control API needs the sandbox's admin token",
                    headers={"WWW-Authenticate": 'Bearer realm="sandbox-control"'},
                )
            try:
                _known_query(request, query)
                return await endpoint(request)
            except Invalid as exc:
                return problem(exc.status, exc.message, violations=[Violation(exc.pointer, exc.message)])

        return guarded

    async def health(request: Request) -> Response:
        return json_response(
            {"status": "ok", "tenants": len(sandbox.tenants), "contract": sandbox.contract.title}
        )

    async def create_tenant(request: Request) -> Response:
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        _only(spec, "seed", "profile", "sizes", "token_ttl", "scopes", "rate_limit")
        sizes = _object(spec, "sizes")
        scopes = _strings(spec, "scopes") if "scopes" in spec else None
        try:
            tenant, client = sandbox.tenants.create(
                seed=_integer(spec, "seed", sandbox.default_seed, 0, MAX_SEED),
                profile=_string(spec, "profile", "small"),
                sizes={k: _integer(sizes, k, 0, 0, MAX_SIZE, "/body/sizes") for k in sizes},
                token_ttl=_integer(spec, "token_ttl", 3600, 1, MAX_TTL),
                scopes=frozenset(scopes) if scopes is not None else None,
                rate_limit=_rate_limit(spec),
            )
        except SynthError as exc:
            return problem(422, str(exc))
        base = str(request.base_url).rstrip("/") + f"/t/{tenant.id}" + sandbox.contract.base_path
        token_url = base + sandbox.token_path if sandbox.token_path else None
        return json_response(
            {
                **tenant.describe(),
                "base_url": base,
                "token_url": token_url,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "scopes": sorted(client.scopes),
                "host_url": f"{request.url.scheme}://{tenant.id}.localhost:{request.url.port or 80}"
                + sandbox.contract.base_path,
                "credentials": auth.credentials(sandbox.contract, client),
            },
            201,
        )

    def with_tenant(endpoint):
        async def found(request: Request) -> Response:
            tenant = sandbox.tenants.get(request.path_params["tenant"])
            if tenant is None:
                return problem(404, f"no tenant {request.path_params['tenant']!r}")
            return await endpoint(request, tenant)

        return found

    async def tenant(request: Request, tenant) -> Response:
        if request.method == "DELETE":
            sandbox.tenants.delete(tenant.id)
            return Response(status_code=204)
        return json_response(tenant.describe())

    async def requests(request: Request, tenant) -> Response:
        since = _query_integer(request, "since", 0, 0)
        return json_response({"data": [e.to_dict() for e in tenant.requests.since(since)]})

    def collection_of(request: Request, tenant) -> str | Response:
        name = request.path_params["collection"]
        if name not in tenant.data.dataset.collections:
            known = sorted(tenant.data.dataset.collections)
            return problem(404, f"no collection {name!r}; the contract has {known}")
        return name

    async def records(request: Request, tenant) -> Response:
        """Ground truth: the tenant's current records, in list order (GET); plant a record (POST)."""
        name = collection_of(request, tenant)
        if isinstance(name, Response):
            return name
        if request.method == "POST":
            fields = await _json_object(request)
            if isinstance(fields, Response):
                return fields
            return json_response(tenant.data.create(name, fields), 201)
        offset = _query_integer(request, "offset", 0, 0)
        limit = _query_integer(request, "limit", 1000, 1, MAX_LIMIT)
        data, _ = tenant.data.page(name, tenant.data.key_at(name, offset), limit)
        return json_response({"data": data, "total": tenant.data.count(name)})

    async def change_record(request: Request, tenant) -> Response:
        name = collection_of(request, tenant)
        if isinstance(name, Response):
            return name
        record_id = _record_id(tenant, name, request.path_params["record"])
        if request.method == "DELETE":
            found = tenant.data.delete(name, record_id)
            return Response(status_code=204) if found else problem(404, f"no {name} record {record_id!r}")
        fields = await _json_object(request)
        if isinstance(fields, Response):
            return fields
        record = tenant.data.update(name, record_id, fields)
        return json_response(record) if record else problem(404, f"no {name} record {record_id!r}")

    async def clock(request: Request, tenant) -> Response:
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        _only(spec, "advance")
        tenant.data.advance(_number(spec, "advance", 0, 0, MAX_ADVANCE))
        return json_response(tenant.describe())

    async def churn(request: Request, tenant) -> Response:
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        _only(spec, "n", "seed", "collections")
        collections = _strings(spec, "collections") if spec.get("collections") is not None else None
        unknown = sorted(set(collections or ()) - set(tenant.data.dataset.collections))
        if unknown:
            known = sorted(tenant.data.dataset.collections)
            raise Invalid("/body/collections", f"no collection {unknown}; the contract has {known}")
        made = tenant.data.churn(
            _integer(spec, "n", 10, 0, MAX_CHURN),
            seed=_integer(spec, "seed", tenant.seed, 0, MAX_SEED),
            collections=collections or None,
        )
        return json_response({"data": [_change(c, tenant) for c in made]})

    async def faults(request: Request, tenant) -> Response:
        if request.method == "DELETE":
            tenant.faults.clear()
            tenant.audit.record("faults.cleared")
            return Response(status_code=204)
        if request.method == "GET":
            return json_response({"rules": [r.to_dict() for r in tenant.faults.rules]})
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        _only(spec, "rules")
        specs = spec.get("rules", [])
        if not isinstance(specs, list):
            raise Invalid("/body/rules", "rules is an array of fault rules")
        try:
            rules = tenant.faults.set(specs, [op.operation_id for op in sandbox.contract.operations])
        except FaultError as exc:
            return problem(422, str(exc))
        tenant.audit.record("faults.set", rules=[r.to_dict() for r in rules])
        return json_response({"rules": [r.to_dict() for r in rules]})

    async def revoke(request: Request, tenant) -> Response:
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        _only(spec, "client_id")
        client_id = spec.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise Invalid("/body/client_id", "client_id is a string, or null for every client")
        if client_id is not None and client_id not in tenant.clients:
            return problem(404, f"no client {client_id!r} in this tenant")
        return json_response({"revoked_tokens": tenant.revoke(client_id)})

    async def subscribe(request: Request, tenant) -> Response:
        if request.method == "GET":
            return json_response({"data": [s.describe() for s in tenant.webhooks.subscriptions]})
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        _only(spec, "url", "types", "secret")
        known = [w.path for w in sandbox.contract.webhooks]
        types = (_strings(spec, "types") if spec.get("types") is not None else None) or known
        unknown = sorted(set(types) - set(known))
        if unknown or not isinstance(spec.get("url"), str):
            return problem(
                422, f"give a url and event types from {known}" + (f"; unknown: {unknown}" if unknown else "")
            )
        secret = spec.get("secret")
        if secret is not None and not _webhook_secret(secret):
            raise Invalid("/body/secret", "secret is a Standard Webhooks secret: whsec_<base64>")
        sub = tenant.webhooks.subscribe(types, url=spec["url"], secret=secret)
        tenant.audit.record("webhook.subscribed", subscription=sub.id, url=sub.url, types=sorted(sub.types))
        return json_response(sub.describe(), 201)

    async def deliveries(request: Request, tenant) -> Response:
        return json_response({"data": tenant.webhooks.log()})

    async def audit(request: Request, tenant) -> Response:
        entries = tenant.audit.entries()
        return json_response(
            {
                "data": entries,
                "problems": verify(entries, tenant.audit.key),
                "head": tenant.audit.head(),
                "key_id": key_id(tenant.audit.key),
            }
        )

    async def changes(request: Request, tenant) -> Response:
        since = _query_integer(request, "since", 0, 0)
        return json_response({"data": [_change(c, tenant) for c in tenant.data.changes_since(since)]})

    def route(path: str, endpoint, methods: list[str], query: tuple[str, ...] = ()) -> Route:
        return Route(path, admin(with_tenant(endpoint), query), methods=methods)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/tenants", admin(create_tenant), methods=["POST"]),
        route("/tenants/{tenant}", tenant, ["GET", "DELETE"]),
        route("/tenants/{tenant}/requests", requests, ["GET"], ("since",)),
        route("/tenants/{tenant}/records/{collection}", records, ["GET", "POST"], ("offset", "limit")),
        route("/tenants/{tenant}/records/{collection}/{record}", change_record, ["PATCH", "DELETE"]),
        route("/tenants/{tenant}/clock", clock, ["POST"]),
        route("/tenants/{tenant}/churn", churn, ["POST"]),
        route("/tenants/{tenant}/changes", changes, ["GET"], ("since",)),
        route("/tenants/{tenant}/faults", faults, ["GET", "POST", "DELETE"]),
        route("/tenants/{tenant}/revoke", revoke, ["POST"]),
        route("/tenants/{tenant}/webhooks", subscribe, ["GET", "POST"]),
        route("/tenants/{tenant}/deliveries", deliveries, ["GET"]),
        route("/tenants/{tenant}/audit", audit, ["GET"]),
    ]


async def _json_object(request: Request) -> dict[str, Any] | Response:
    try:
        value = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return problem(400, f"the body is not valid JSON: {exc}")
    if not isinstance(value, dict):
        return problem(400, "the body must be a JSON object")
    return value


def _only(spec: dict[str, Any], *known: str) -> None:
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise Invalid(f"/body/{unknown[0]}", f"unknown fields {unknown}; known: {sorted(known)}")


def _integer(spec: dict[str, Any], name: str, default: int, low: int, high: int, at: str = "/body") -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{at}/{name}", f"{name} is an integer from {low} to {high}")
    return value


def _number(spec: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise Invalid(f"/body/{name}", f"{name} is a number from {low} to {high}")
    return float(value)


def _string(spec: dict[str, Any], name: str, default: str) -> str:
    value = spec.get(name, default)
    if not isinstance(value, str):
        raise Invalid(f"/body/{name}", f"{name} is a string")
    return value


def _strings(spec: dict[str, Any], name: str) -> list[str]:
    value = spec.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"/body/{name}", f"{name} is an array of strings")
    return value


def _object(spec: dict[str, Any], name: str) -> dict[str, Any]:
    value = spec.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"/body/{name}", f"{name} is an object")
    return value


def _known_query(request: Request, known: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        raise Invalid(f"/query/{unknown[0]}", f"{unknown[0]!r} is not a query parameter here; {takes}", 400)


def _webhook_secret(value: Any) -> bool:
    if not isinstance(value, str) or not WEBHOOK_SECRET.fullmatch(value):
        return False
    try:
        Webhook(value)
    except Exception:  # the library's errors share no base class; any means the secret is unusable
        return False
    return True


def _query_integer(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    given = request.query_params.getlist(name)
    if not given:
        return default
    text = given[-1] if len(given) == 1 else ""
    value = int(text) if text.lstrip("-").isdigit() and text.isascii() else None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise Invalid(f"/query/{name}", f"{name} is an integer {bounds}", status=400)
    return value


def _rate_limit(spec: dict[str, Any]) -> tuple[float, int]:
    limit = _object(spec, "rate_limit")
    if not limit:
        return DEFAULT_RATE
    unknown = sorted(set(limit) - {"rate", "burst"})
    if unknown:
        raise Invalid(f"/body/rate_limit/{unknown[0]}", "rate_limit is an object {rate, burst}")
    rate = limit.get("rate", DEFAULT_RATE[0])
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.001 <= rate <= 1e6:
        raise Invalid("/body/rate_limit/rate", "rate is requests per second, from 0.001 to 1000000")
    return float(rate), _integer(limit, "burst", DEFAULT_RATE[1], 1, 1_000_000, "/body/rate_limit")


def _record_id(tenant: Any, collection: str, raw: str) -> Any:
    """The record id as the collection types it: integer ids come as digits in the path."""
    schema = tenant.data.dataset.collections[collection].id_schema
    return int(raw) if schema.get("type") == "integer" and raw.lstrip("-").isdigit() else raw


def _change(change: Change, tenant: Any) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "time": rfc3339(change.time),
        "type": change.type,
        "collection": change.collection,
        "id": change.id,
        "by": tenant.change_by.get(change.seq, "harness"),
        "record": change.record,
    }
