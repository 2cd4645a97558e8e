"""The sandbox as an ASGI app: the contract's API per tenant under `/t/{tenant}`, and the
control API under `/_sandbox`.

Every API request is validated against the contract, authenticated as its operation demands,
answered by the handler registered for its operation, checked on the way out, and logged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import partial
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from harness.contract import Contract, validate_request, validate_response
from harness.contract.collections import find_feed
from harness.sandbox import auth
from harness.sandbox.collections import (
    Feed,
    create_record,
    delete_record,
    get_record,
    list_records,
    update_record,
)
from harness.sandbox.control import control_routes
from harness.sandbox.problems import PROBLEM_JSON, conform_error, problem
from harness.sandbox.recorder import RequestRecord, digest, mask_headers, mask_query
from harness.sandbox.tenants import Tenant, Tenants

Handler = Callable[[Tenant, dict[str, list[str]], dict[str, str], bytes], Response]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MAX_BODY = 1 << 20
FORM = "application/x-www-form-urlencoded"


class Sandbox:
    """One contract, many tenants. `app` is the ASGI application to serve."""

    def __init__(self, contract: Contract, admin_token: str | None = None) -> None:
        self.contract = contract
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.tenants = Tenants(contract)
        self.token_path = contract.token_path
        self.handlers = self._handlers()
        self.app = Starlette(
            routes=[
                Mount("/_sandbox", routes=control_routes(self)),
                Route("/t/{tenant}/{rest:path}", self.serve, methods=METHODS),
            ]
        )

    def _handlers(self) -> dict[str, Handler]:
        """The handler for each operation the sandbox implements, by operationId."""
        handlers: dict[str, Handler] = {}
        for col in self.contract.collections.values():
            handlers[col.list_op.operation_id] = partial(list_records, col)
            handlers[col.item_op.operation_id] = partial(get_record, col)
            for op, handler in (
                (col.create_op, create_record),
                (col.update_op, update_record),
                (col.delete_op, delete_record),
            ):
                if op is not None:
                    handlers[op.operation_id] = partial(handler, col)
        feed = find_feed(self.contract)
        if feed is not None:
            handlers[feed.operation_id] = Feed(self.contract, feed)
        return handlers

    async def serve(self, request: Request) -> Response:
        started = time.perf_counter()
        tenant = self.tenants.get(request.path_params["tenant"])
        if tenant is None:
            return problem(404, f"no tenant {request.path_params['tenant']!r} in this sandbox")
        path = "/" + request.path_params["rest"]
        base = self.contract.base_path
        if base and not (path == base or path.startswith(base + "/")):
            return problem(404, f"this API is served under {base}")
        api_path = path[len(base) :] or "/"
        body = await request.body()
        query = parse_qs(request.url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        entry = RequestRecord(
            seq=tenant.requests.next_seq(),
            time=time.time(),
            method=request.method,
            path=api_path,
            query=mask_query(query, tenant.secrets()),
            headers=mask_headers(headers),
            body_digest=digest(body),
            body_size=len(body),
            operation=None,
        )
        response = self._respond(tenant, entry, request.method, api_path, query, headers, body)
        entry.status = response.status_code
        entry.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        tenant.requests.append(entry)
        return response

    def _respond(
        self,
        tenant: Tenant,
        entry: RequestRecord,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Response:
        if len(body) > MAX_BODY:
            return problem(413, f"the body is {len(body)} bytes; the limit is {MAX_BODY}")
        match, violations = validate_request(self.contract, method, path, query, headers, body)
        entry.violations = [{"pointer": v.pointer, "message": v.message} for v in violations]
        if match is None:
            status = 405 if self.contract.router.allowed(path) else 404
            return problem(status, violations[0].message, violations=violations)
        op = match.operation
        entry.operation = op.operation_id
        form = _form(headers, body)
        if path == self.token_path and method == "POST":
            response = auth.issue_token(tenant, form or {}, headers)
        else:
            principal, refusal = auth.authenticate(self.contract, tenant, op, headers, query, form)
            entry.auth = principal.to_dict()
            if refusal is not None:
                response = refusal
            elif violations:
                response = problem(400, f"the request breaks the contract of {op}", violations=violations)
            else:
                handler = self.handlers.get(op.operation_id)
                response = (
                    handler(tenant, query, match.path_params, body)
                    if handler
                    else problem(501, f"the sandbox does not implement {op} yet")
                )
        if response.media_type == PROBLEM_JSON:
            response = conform_error(self.contract, op, response)
        entry.response_violations = [
            {"pointer": v.pointer, "message": v.message}
            for v in validate_response(
                self.contract, op, response.status_code, dict(response.headers), bytes(response.body)
            )
        ]
        return response


def _form(headers: dict[str, str], body: bytes) -> dict[str, list[str]] | None:
    if not body or headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return None
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return {}


def create_app(contract: Contract, admin_token: str | None = None) -> Sandbox:
    return Sandbox(contract, admin_token)
