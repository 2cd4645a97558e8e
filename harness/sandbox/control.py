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

from harness.sandbox.problems import json_response, problem
from harness.synth import SynthError

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
                sizes={k: int(v) for k, v in (spec.get("sizes") or {}).items()},
                token_ttl=int(spec.get("token_ttl", 3600)),
                scopes=frozenset(spec["scopes"]) if "scopes" in spec else None,
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

    async def records(request: Request, tenant) -> Response:
        name = request.path_params["collection"]
        if name not in tenant.dataset.sizes:
            return problem(404, f"no collection {name!r}; the contract has {sorted(tenant.dataset.sizes)}")
        offset = int(request.query_params.get("offset", "0"))
        limit = min(int(request.query_params.get("limit", "1000")), 10_000)
        data: list[Any] = list(tenant.dataset.records(name, offset, offset + limit))
        return json_response({"data": data, "total": tenant.dataset.size(name)})

    return [
        Route("/health", health),
        Route("/tenants", admin(create_tenant), methods=["POST"]),
        Route("/tenants/{tenant}", admin(with_tenant(get_tenant)), methods=["GET"]),
        Route("/tenants/{tenant}", admin(with_tenant(delete_tenant)), methods=["DELETE"]),
        Route("/tenants/{tenant}/requests", admin(with_tenant(requests))),
        Route("/tenants/{tenant}/records/{collection}", admin(with_tenant(records))),
    ]
