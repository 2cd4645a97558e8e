"""The control API under `/_sandbox`: how tests and checks drive the sandbox.

Every route but `health` needs the admin bearer token (compared in constant time); tenant
tokens never open it.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.sandbox.audit import verify
from harness.sandbox.faults import FaultError
from harness.sandbox.problems import json_response, problem
from harness.sandbox.tenants import DEFAULT_RATE
from harness.synth import Change, SynthError, rfc3339

if TYPE_CHECKING:
    from harness.sandbox.app import Sandbox


def control_routes(sandbox: Sandbox) -> list[Route]:
    def admin(endpoint):
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
            return await endpoint(request)

        return guarded

    async def health(request: Request) -> Response:
        return json_response(
            {"status": "ok", "tenants": len(sandbox.tenants), "contract": sandbox.contract.title}
        )

    async def create_tenant(request: Request) -> Response:
        try:
            spec = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            return problem(400, f"the body is not valid JSON: {exc.msg}")
        if not isinstance(spec, dict):
            return problem(400, "the body must be a JSON object")
        try:
            tenant, client = sandbox.tenants.create(
                seed=int(spec.get("seed", 0)),
                profile=str(spec.get("profile", "small")),
                sizes={k: int(v) for k, v in (spec.get("sizes") or {}).items()},
                token_ttl=int(spec.get("token_ttl", 3600)),
                scopes=frozenset(spec["scopes"]) if "scopes" in spec else None,
                rate_limit=_rate_limit(spec.get("rate_limit")),
            )
        except SynthError as exc:
            return problem(422, str(exc))
        except (TypeError, ValueError) as exc:
            return problem(422, f"invalid tenant spec: {exc}")
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

    async def get_tenant(request: Request, tenant) -> Response:
        return json_response(tenant.describe())

    async def delete_tenant(request: Request, tenant) -> Response:
        sandbox.tenants.delete(tenant.id)
        return Response(status_code=204)

    async def requests(request: Request, tenant) -> Response:
        since = int(request.query_params.get("since", "0") or 0)
        return json_response({"data": [e.to_dict() for e in tenant.requests.since(since)]})

    def collection_of(request: Request, tenant) -> str | Response:
        name = request.path_params["collection"]
        if name not in tenant.data.dataset.collections:
            known = sorted(tenant.data.dataset.collections)
            return problem(404, f"no collection {name!r}; the contract has {known}")
        return name

    async def records(request: Request, tenant) -> Response:
        """Ground truth: the tenant's current records, in list order."""
        name = collection_of(request, tenant)
        if isinstance(name, Response):
            return name
        offset = int(request.query_params.get("offset", "0"))
        limit = min(int(request.query_params.get("limit", "1000")), 10_000)
        data, _ = tenant.data.page(name, tenant.data.key_at(name, offset), limit)
        return json_response({"data": data, "total": tenant.data.count(name)})

    async def create_record(request: Request, tenant) -> Response:
        name = collection_of(request, tenant)
        if isinstance(name, Response):
            return name
        fields = await _json_object(request)
        if isinstance(fields, Response):
            return fields
        return json_response(tenant.data.create(name, fields), 201)

    async def change_record(request: Request, tenant) -> Response:
        name = collection_of(request, tenant)
        if isinstance(name, Response):
            return name
        record_id = request.path_params["record"]
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
        tenant.data.advance(float(spec.get("advance", 0)))
        return json_response(tenant.describe())

    async def churn(request: Request, tenant) -> Response:
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        made = tenant.data.churn(
            int(spec.get("n", 10)),
            seed=int(spec.get("seed", tenant.seed)),
            collections=spec.get("collections"),
        )
        return json_response({"data": [_change(c) for c in made]})

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
        try:
            rules = tenant.faults.set(spec.get("rules", []))
        except FaultError as exc:
            return problem(422, str(exc))
        tenant.audit.record("faults.set", rules=[r.to_dict() for r in rules])
        return json_response({"rules": [r.to_dict() for r in rules]})

    async def revoke(request: Request, tenant) -> Response:
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        client_id = spec.get("client_id")
        if client_id is not None and client_id not in tenant.clients:
            return problem(404, f"no client {client_id!r} in this tenant")
        return json_response({"revoked_tokens": tenant.revoke(client_id)})

    async def subscribe(request: Request, tenant) -> Response:
        if request.method == "GET":
            return json_response({"data": [s.describe() for s in tenant.webhooks.subscriptions]})
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        known = [w.path for w in sandbox.contract.webhooks]
        types = spec.get("types") or known
        unknown = sorted(set(types) - set(known))
        if unknown or not isinstance(spec.get("url"), str):
            return problem(
                422, f"give a url and event types from {known}" + (f"; unknown: {unknown}" if unknown else "")
            )
        sub = tenant.webhooks.subscribe(types, url=spec["url"], secret=spec.get("secret"))
        tenant.audit.record("webhook.subscribed", subscription=sub.id, url=sub.url, types=sorted(sub.types))
        return json_response(sub.describe(), 201)

    async def deliveries(request: Request, tenant) -> Response:
        return json_response({"data": tenant.webhooks.log()})

    async def audit(request: Request, tenant) -> Response:
        entries = tenant.audit.entries()
        return json_response({"data": entries, "problems": verify(entries)})

    async def changes(request: Request, tenant) -> Response:
        since = int(request.query_params.get("since", "0") or 0)
        return json_response({"data": [_change(c) for c in tenant.data.changes_since(since)]})

    return [
        Route("/health", health),
        Route("/tenants", admin(create_tenant), methods=["POST"]),
        Route("/tenants/{tenant}", admin(with_tenant(get_tenant)), methods=["GET"]),
        Route("/tenants/{tenant}", admin(with_tenant(delete_tenant)), methods=["DELETE"]),
        Route("/tenants/{tenant}/requests", admin(with_tenant(requests))),
        Route("/tenants/{tenant}/records/{collection}", admin(with_tenant(records)), methods=["GET"]),
        Route("/tenants/{tenant}/records/{collection}", admin(with_tenant(create_record)), methods=["POST"]),
        Route(
            "/tenants/{tenant}/records/{collection}/{record}",
            admin(with_tenant(change_record)),
            methods=["PATCH", "DELETE"],
        ),
        Route("/tenants/{tenant}/clock", admin(with_tenant(clock)), methods=["POST"]),
        Route("/tenants/{tenant}/churn", admin(with_tenant(churn)), methods=["POST"]),
        Route("/tenants/{tenant}/changes", admin(with_tenant(changes)), methods=["GET"]),
        Route("/tenants/{tenant}/faults", admin(with_tenant(faults)), methods=["GET", "POST", "DELETE"]),
        Route("/tenants/{tenant}/revoke", admin(with_tenant(revoke)), methods=["POST"]),
        Route("/tenants/{tenant}/webhooks", admin(with_tenant(subscribe)), methods=["GET", "POST"]),
        Route("/tenants/{tenant}/deliveries", admin(with_tenant(deliveries)), methods=["GET"]),
        Route("/tenants/{tenant}/audit", admin(with_tenant(audit)), methods=["GET"]),
    ]


async def _json_object(request: Request) -> dict[str, Any] | Response:
    try:
        value = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return problem(400, f"the body is not valid JSON: {exc}")
    if not isinstance(value, dict):
        return problem(400, "the body must be a JSON object")
    return value


def _rate_limit(spec: Any) -> tuple[float, int]:
    if spec is None:
        return DEFAULT_RATE
    if not isinstance(spec, dict):
        raise ValueError("rate_limit is an object {rate, burst}")
    return float(spec.get("rate", DEFAULT_RATE[0])), int(spec.get("burst", DEFAULT_RATE[1]))


def _change(change: Change) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "time": rfc3339(change.time),
        "type": change.type,
        "collection": change.collection,
        "id": change.id,
    }
