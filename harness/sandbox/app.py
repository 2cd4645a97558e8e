"""The sandbox as an ASGI app: the contract's API per tenant under `/t/{tenant}`, and the
control API under `/_sandbox`.

An API request goes through fixed steps, each one concern: match and validate against the
contract, scripted faults, authentication, the rate limit, Idempotency-Key, the handler
registered for its operation, and a check of the response against the contract. Everything is
recorded in the tenant's request log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, partial
from typing import Any
from urllib.parse import parse_qs, urlparse

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from harness.contract import Contract, Match, Operation, Violation, validate_request, validate_response
from harness.contract.bodies import as_utf8, form_value, multipart_value
from harness.contract.collections import find_feed
from harness.contract.evolve import Evolution, evolve
from harness.contract.validation import check_request
from harness.core.errors import HarnessError
from harness.sandbox import auth
from harness.sandbox.audit import acting
from harness.sandbox.collections import (
    ORIGIN,
    Feed,
    create_record,
    delete_record,
    get_record,
    update_record,
)
from harness.sandbox.control import control_routes
from harness.sandbox.faults import FaultRule
from harness.sandbox.generated import Responder, request_seed
from harness.sandbox.idempotency import Stored
from harness.sandbox.joined import unjoined
from harness.sandbox.limits import Decision
from harness.sandbox.pages import list_page
from harness.sandbox.problems import PROBLEM_JSON, conform_error, problem
from harness.sandbox.recorder import RequestRecord, digest, mask_headers, mask_query
from harness.sandbox.shaping import SHAPED_FAULTS, declared_headers, shape
from harness.sandbox.store import Store
from harness.sandbox.store.admission import admitting, bearer
from harness.sandbox.tenants import Tenant, Tenants

Handler = Callable[[Tenant, dict[str, list[str]], dict[str, str], bytes], Response]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MAX_BODY = 1 << 20
FORM = "application/x-www-form-urlencoded"
IDEMPOTENT_METHODS = ("POST", "PATCH")
HOLD_SECONDS = 0.025  # how long a rate-limited client waits for its 429
MAX_HELD = 64  # refusals held at once, at most
EMPTY_DIGEST = digest(b"")


class Sandbox:
    """One contract, many tenants. `app` is the ASGI application to serve."""

    def __init__(
        self, contract: Contract, admin_token: str | None = None, store: Store | None = None
    ) -> None:
        self.contract = contract
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.default_seed = 0  # for tenants created without a seed (`harness sandbox serve --seed`)
        self.root_tenant: str | None = None  # the tenant served at `/` too (`serve --root-tenant`)
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="harness-webhooks")
        self.tenants = Tenants(contract, self.executor, store)  # in memory unless a store is given
        self.token_path = contract.token_path
        self.oauth_paths = oauth_paths(contract)
        self.grants = auth.grant_types(contract)
        self.handlers = self._handlers()
        self.responder = Responder(contract)
        self.declared = declared_headers(contract)  # response headers shaping never adds
        self.control = Starlette(
            routes=[Mount("/_sandbox", routes=control_routes(self))],
            exception_handlers={HTTPException: _http_problem},
        )

        self.app = _Asgi(self._route)
        self._held = 0  # refusals being held (see _hold)
        # tenants served from the contract's next additive version (POST /tenants `evolve`): one
        # sandbox per evolution seed, built on first use, its tenants reached through this one
        self.evolutions: dict[int, Sandbox] = {}
        found = Evolution.of(contract)
        self.deprecated = found.deprecated if found else {}  # operationId -> Deprecation, Sunset

    def evolution(self, seed: int) -> Sandbox:
        """The sandbox serving the contract's next additive version for this seed."""
        if seed not in self.evolutions:
            evolved = Sandbox(evolve(self.contract, seed), self.admin_token)
            evolved.default_seed = self.default_seed
            self.evolutions[seed] = evolved
        return self.evolutions[seed]

    def holder(self, tenant_id: str) -> Sandbox:
        """The sandbox holding a tenant: this one, or the evolution it was created in."""
        if self.evolutions and self.tenants.get(tenant_id) is None:
            for evolved in self.evolutions.values():
                if evolved.tenants.get(tenant_id) is not None:
                    return evolved
        return self

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route API calls by hand: `/t/{tenant}/...`, or `/...` on a host named for a tenant
        (`<tenant>.localhost`) or on a port whose root is one tenant's (`root_tenant`), for
        clients that can set only host and port. A path template's
        regex would miss paths with control characters and answer Starlette's own 404. API calls
        are read straight from the ASGI scope: no per-request Starlette objects on the hot path."""
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            tenant_id, rest = None, None
            if path.startswith("/t/"):
                tenant_id, _, rest = path[3:].partition("/")
            elif not path.startswith("/_sandbox"):
                host = next((v for k, v in scope.get("headers") or [] if k == b"host"), b"").decode("latin-1")
                label = host.partition(":")[0].partition(".")[0]
                if label and self.holder(label).tenants.get(label) is not None:
                    tenant_id, rest = label, path.lstrip("/")
                elif self.root_tenant is not None:  # `serve --root-tenant`: the port's root is its API
                    tenant_id, rest = self.root_tenant, path.lstrip("/")
            if tenant_id is not None and rest is not None:
                scope, rest = unjoined(scope, tenant_id, rest)  # a link an SDK joined to its base URL
                try:  # any method: a 405 lists Allow
                    response = await self.holder(tenant_id).serve(scope, receive, tenant_id, rest)
                except _Disconnected:
                    return
                await response(scope, receive, send)
                return
        await self.control(scope, receive, send)

    async def _hold(self) -> None:
        """Fair scheduling: a client past its rate limit gets its 429 after a short pause, so a
        flood on a few connections cannot keep the server busy for every other tenant (its
        connections wait, costing nothing). A bounded number are held at once; past that a
        refusal is sent at once rather than tying up connection slots."""
        if self._held >= MAX_HELD:
            return
        self._held += 1
        try:
            await asyncio.sleep(HOLD_SECONDS)
        finally:
            self._held -= 1

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.tenants.store.close()
        for evolved in self.evolutions.values():
            evolved.close()

    def _handlers(self) -> dict[str, Handler]:
        """The handler for each operation the sandbox implements, by operationId."""
        handlers: dict[str, Handler] = {}
        for col in self.contract.collections.values():
            handlers[col.list_op.operation_id] = partial(list_page, col)
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

    async def serve(self, scope: Scope, receive: Receive, tenant_id: str, rest: str) -> Response:
        with admitting():  # what admission prefetches serves this request only
            return await self._serve(scope, receive, tenant_id, rest)

    async def _serve(self, scope: Scope, receive: Receive, tenant_id: str, rest: str) -> Response:
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        auth.vouched_header(headers, scope.get("client"))  # set by the mutualTLS front only
        tenant = self.tenants.store.admit(tenant_id, self.tenants.build, bearer(headers))
        if tenant is None:
            return problem(404, f"no tenant {tenant_id!r} in this sandbox")
        path = "/" + rest
        base = self.contract.base_path
        if path in self.oauth_paths and not path.startswith(base + "/"):
            base = ""  # a token URL outside the API's base path (or on another host): its path
        if base and not (path == base or path.startswith(base + "/")):
            return problem(404, f"this API is served under {base}")
        api_path = path[len(base) :] or "/"
        method: str = scope["method"]
        body = await _read_body(headers, receive)
        query_string = scope.get("query_string", b"").decode("utf-8", "replace")
        query = parse_qs(query_string, keep_blank_values=True) if query_string else {}
        full_path: str = scope.get("path", "")
        mounted = full_path[: -len(path)] if full_path.endswith(path) else ""
        host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
        ORIGIN.set(f"{scope.get('scheme', 'http')}://{host}{mounted}{base}")
        entry = RequestRecord(
            seq=tenant.requests.next_seq(),
            time=time.time(),
            method=method,
            path=api_path,
            query=mask_query(query, tenant.secrets()) if query else {},
            headers=mask_headers(headers),
            body_digest=digest(body) if body else EMPTY_DIGEST,
            body_size=len(body or b""),
            operation=None,
            raw_query=query_string,
        )
        headers, body = as_utf8(headers, body)  # logged as sent; handled as UTF-8
        call = _Call(tenant, entry, method, api_path, query, headers, body)
        response = await self._respond(call)
        sunset = self.deprecated.get(entry.operation or "")
        if sunset and 200 <= response.status_code < 300:
            response.headers.update(sunset)  # RFC 9745 and RFC 8594, as the evolved contract declares
        if call.refused:
            await self._hold()
        entry.status = response.status_code
        entry.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        if isinstance(response, _Stalled):  # logged once the client left or the stall ended
            response.logged = partial(_log_stall, tenant, entry)
            return response
        tenant.requests.append(entry)
        # a cut or dropped answer is sent exactly as scripted; a tidy tenant's, as made
        if tenant.adversarial and set(entry.faults) <= SHAPED_FAULTS:
            op = self.contract.operation(entry.operation) if entry.operation else None
            version = str(scope.get("http_version", "1.1"))
            response = shape(self.contract, op, response, call.seed, headers, version, method, self.declared)
        return response

    async def _respond(self, call: _Call) -> Response:
        if call.body is None:
            return problem(413, f"the body is larger than the limit of {MAX_BODY} bytes")
        if (
            call.method == "POST"
            and call.path in self.oauth_paths
            and self.contract.router.match("POST", call.path) is None
        ):  # the contract's token endpoint is not one of its paths: serve it anyway
            form = _form(call.headers, call.body) or {}
            client_id = form.get("client_id", ["anonymous"])[-1]
            limited = self._rate_limited(call, f"token:{client_id}")
            return limited or self._token(call, form)
        match = self.contract.router.match(call.method, call.path)
        if match is None:
            _, violations = validate_request(self.contract, call.method, call.path)
            call.entry.violations = [{"pointer": v.pointer, "message": v.message} for v in violations]
            allowed = self.contract.router.allowed(call.path)
            if allowed:  # RFC 9110 section 15.5.6: a 405 lists the methods the resource has
                return problem(
                    405, violations[0].message, violations=violations, headers={"Allow": ", ".join(allowed)}
                )
            return problem(404, violations[0].message, violations=violations)
        op = match.operation
        call.entry.operation = op.operation_id
        fired = call.tenant.faults.fire(op.operation_id)
        call.entry.faults = [rule.kind for rule in fired]
        response = await self._before_faults(call, fired)
        if response is None:
            response = self._authorized(call, op, match)
        else:
            self._validate(call, match)
        if response.media_type == PROBLEM_JSON:
            response = conform_error(self.contract, op, response, self.responder, call.seed)
        found = self._check(op, response)
        repairable = not any(rule.kind in ("status", "status_after") for rule in fired)
        if repairable and (found or _undocumented_success(op, response.status_code)):
            response, call.entry.repair = self.responder.conform(op, response, call.seed, call.method)
            found = self._check(op, response)
        call.entry.response_violations = [{"pointer": v.pointer, "message": v.message} for v in found]
        return self._after_faults(call, fired, response)

    def _check(self, op: Operation, response: Response) -> list[Violation]:
        """The response's violations of the contract (a body already seen valid is known valid)."""
        return validate_response(
            self.contract, op, response.status_code, response.headers, bytes(response.body)
        )

    async def _before_faults(self, call: _Call, fired: list[FaultRule]) -> Response | None:
        for rule in fired:
            if rule.kind == "latency":
                await asyncio.sleep(rule.latency_ms / 1000)
            elif rule.kind == "expire_token":
                presented = call.headers.get("authorization", "").partition(" ")[2].strip()
                call.tenant.expire_token(presented)
            elif rule.kind == "status":
                limiter = call.tenant.limiter
                refused = Decision(False, 0, rule.retry_after, rule.retry_after)
                extra = refused.headers(limiter.rate, limiter.burst) if rule.status == 429 else {}
                return problem(rule.status, f"injected fault: {rule.status}", headers=extra)
        return None

    def _after_faults(self, call: _Call, fired: list[FaultRule], response: Response) -> Response:
        for rule in fired:
            if rule.kind == "churn":
                call.tenant.data.churn(rule.churn, seed=call.tenant.seed + rule.fired)
            elif rule.kind == "truncate" and response.body:
                cut = bytes(response.body)[: max(1, len(response.body) // 2)]
                headers = {k: v for k, v in response.headers.items() if k != "content-length"}
                response = Response(cut, response.status_code, headers=headers)
            elif rule.kind == "status_after":  # the write is applied, but the client is told it failed
                failed = problem(rule.status, f"injected fault: {rule.status} after the request was applied")
                op = self.contract.operation(call.entry.operation)  # type: ignore[arg-type]
                response = conform_error(self.contract, op, failed, self.responder, call.seed)
            elif rule.kind == "drop":
                response = _Dropped(response)
            elif rule.kind in ("stall", "trickle"):
                response = _Stalled(response, rule.latency_ms / 1000, trickle=rule.kind == "trickle")
        return response

    def _token(self, call: _Call, form: dict[str, list[str]]) -> Response:
        """The token endpoint; who asked for which grant (and any refusal) goes in the log."""
        principal = auth.Principal()
        response = auth.issue_token(call.tenant, form, call.headers, self.grants, principal)
        call.entry.auth = principal.to_dict()
        return response

    def _authorized(self, call: _Call, op: Operation, match: Match) -> Response:
        """Authentication and the rate limit come first (cheap), then the request is checked
        against the contract: a flood that is refused costs little."""
        form = _form(call.headers, call.body)
        tenant = call.tenant
        if call.method == "POST" and (call.path == self.token_path or call.path in self.oauth_paths):
            self._validate(call, match)
            client_id = (form or {}).get("client_id", ["anonymous"])[-1]
            limited = self._rate_limited(call, f"token:{client_id}")
            return limited or self._token(call, form or {})
        fields = form if form is not None else _json_fields(call.headers, call.body)
        principal, refusal = auth.authenticate(self.contract, tenant, op, call.headers, call.query, fields)
        call.entry.auth = principal.to_dict()
        if refusal is not None:
            self._validate(call, match)
            return refusal
        limited = self._rate_limited(call, principal.client_id or "anonymous")
        if limited is not None:
            return limited  # refused before the request is read against the contract
        violations = self._validate(call, match)
        if violations:
            return problem(400, f"the request breaks the contract of {op}", violations=violations)
        path_params = match.path_params
        handler = self.handlers.get(op.operation_id)
        if handler is None:
            handler = self._generated(op, call)
        call.body = self._as_json(op, call)
        key = call.headers.get("idempotency-key")
        with acting("api"):  # what the handler changes, the connector did (not ground truth)
            if key and call.method in IDEMPOTENT_METHODS:
                return self._idempotent(call, op, principal.client_id or "", key, handler, path_params)
            return self._safely(op, call, handler, path_params)

    def _validate(self, call: _Call, match: Match) -> list[Violation]:
        violations = check_request(self.contract, match, call.query, call.headers, call.body or b"")
        call.entry.violations = [{"pointer": v.pointer, "message": v.message} for v in violations]
        return violations

    def _safely(self, op: Operation, call: _Call, handler: Handler, path_params: dict[str, str]) -> Response:
        """A handler that fails on an input nobody foresaw answers a generated, documented
        response (logged), never a 500."""
        try:
            return handler(call.tenant, call.query, path_params, call.body)  # type: ignore[arg-type]
        except Exception:
            logging.getLogger("harness.sandbox").exception("handler for %s failed; answering generated", op)
            call.entry.auth["handler_failed"] = True
            return self.responder.generate(op, call.seed, call.method)

    def _as_json(self, op: Operation, call: _Call) -> bytes | None:
        """Stateful handlers read JSON: a (validated) form body is handed on as the JSON value
        its schema describes, nested bracket keys folded (`metadata[key]`, `items[0][price]`)."""
        media = call.headers.get("content-type", "").split(";")[0].strip().lower()
        if not call.body:
            return b"{}" if call.method in ("POST", "PUT", "PATCH") else call.body
        try:
            if media == FORM:
                value = form_value(self.contract, call.body.decode("utf-8"), op.body_media.get(FORM))
            elif media == "multipart/form-data":
                value = multipart_value(call.headers.get("content-type", ""), call.body)
            else:
                json.loads(call.body)
                return call.body
        except (UnicodeDecodeError, ValueError, RecursionError):
            return b"{}"
        return json.dumps(value).encode()

    def _generated(self, op: Operation, call: _Call) -> Handler:
        """No state behind this operation: a documented answer generated from its schemas."""

        def handler(tenant: Tenant, query: Any, path_params: Any, body: Any) -> Response:
            return self.responder.generate(op, call.seed, call.method)

        return handler

    def _rate_limited(self, call: _Call, key: str) -> Response | None:
        tenant = call.tenant
        decision = tenant.limiter.take(key)
        if decision.allowed:
            return None
        call.refused = True
        return problem(
            429,
            f"rate limit exceeded; retry in {decision.retry_after} s",
            headers=decision.headers(tenant.limiter.rate, tenant.limiter.burst),
        )

    def _idempotent(
        self, call: _Call, op: Operation, client: str, key: str, handler: Handler, path_params: dict[str, str]
    ) -> Response:
        store = call.tenant.idempotency
        fingerprint = store.fingerprint(call.method, call.path, call.body)  # type: ignore[arg-type]
        seen = store.lookup(client, op.operation_id, key)
        if seen is not None:
            if seen.fingerprint != fingerprint:
                status = _conflict_status(op)
                if status is None:  # the contract allows no refusal here: a new request, not remembered
                    return self._safely(op, call, handler, path_params)
                return problem(
                    status,
                    "this Idempotency-Key was used with a different request body; "
                    "use a new key for a new request",
                )
            call.entry.auth["idempotent_replay"] = True
            return Response(
                seen.body, seen.status, media_type=seen.media_type, headers={"Idempotent-Replayed": "true"}
            )
        response = self._safely(op, call, handler, path_params)
        if response.status_code < 500:
            store.remember(
                client,
                op.operation_id,
                key,
                Stored(fingerprint, response.status_code, bytes(response.body), response.media_type),
            )
        return response


def _conflict_status(op: Operation) -> int | None:
    """The status refusing an Idempotency-Key reused with another body: 422, else 409 or 400 where
    only those are documented; 422 where `4XX` or `default` covers it; None where the operation
    documents no client error at all (Adyen's `POST /cardDetails` documents only 200)."""
    for status in ("422", "409", "400"):
        if status in op.responses:
            return int(status)
    return 422 if "4XX" in op.responses or "default" in op.responses else None


def _undocumented_success(op: Operation, status: int) -> bool:
    """A 2xx only `default` covers while the operation names its own success code: the
    responder answers with that code instead."""
    if not 200 <= status < 300:
        return False
    return (op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX")) is None


class _Asgi:
    """An ASGI 3 callable (clients detect the style by an `async def __call__`)."""

    def __init__(self, route: Callable[[Scope, Receive, Send], Any]) -> None:
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.route(scope, receive, send)


class _Call:
    """One API request on its way through the steps."""

    def __init__(
        self,
        tenant: Tenant,
        entry: RequestRecord,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes | None,
    ) -> None:
        self.tenant, self.entry, self.method, self.path = tenant, entry, method, path
        self.query, self.headers, self.body = query, headers, body
        self.refused = False  # answered 429 by the rate limit

    @cached_property
    def seed(self) -> int:
        """Seeds generated answers: made only when one is needed (most calls need none)."""
        query_text = "&".join(f"{k}={v}" for k in sorted(self.query) for v in self.query[k])
        return request_seed(self.tenant.seed, self.method, self.path, query_text, self.entry.body_digest)


class InjectedDrop(HarnessError, ConnectionAbortedError):
    """Raised mid-response to cut a connection on purpose; the server's error log ignores it."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class _Dropped(Response):
    """Start the response, send half the body, then cut the connection (a dropped connection)."""

    def __init__(self, inner: Response) -> None:
        super().__init__(inner.body, inner.status_code, headers=dict(inner.headers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send(
            {"type": "http.response.body", "body": bytes(self.body)[: len(self.body) // 2], "more_body": True}
        )
        raise InjectedDrop("injected fault: connection dropped")


class _Stalled(Response):
    """Hold the answer for `seconds` (a trickle sends the headers and half the body first), then
    send the rest, watching for the client to give up meanwhile: the log records how long the
    answer was held and whether the client closed the connection first (`abandoned`)."""

    def __init__(self, inner: Response, seconds: float, *, trickle: bool) -> None:
        super().__init__(inner.body, inner.status_code, headers=dict(inner.headers))
        self.seconds, self.trickle = seconds, trickle
        self.logged: Callable[[float, bool], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytes(self.body)
        start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        started = time.perf_counter()
        sent = len(body) // 2 if self.trickle else 0
        if self.trickle:
            await send(start)
            await send({"type": "http.response.body", "body": body[:sent], "more_body": True})
        abandoned = await _client_leaves(receive, self.seconds)
        if self.logged is not None:
            self.logged((time.perf_counter() - started) * 1000, abandoned)
        if abandoned:
            return
        if not self.trickle:
            await send(start)
        await send({"type": "http.response.body", "body": body[sent:]})


async def _client_leaves(receive: Receive, seconds: float) -> bool:
    """True when the client disconnects within `seconds` (its request body was already read)."""
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return False
        if message["type"] == "http.disconnect":
            return True
    return False


def _log_stall(tenant: Tenant, entry: RequestRecord, held_ms: float, abandoned: bool) -> None:
    entry.held_ms, entry.abandoned = round(held_ms, 3), abandoned
    tenant.requests.append(entry)


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, a method the route lacks) as problem details too."""
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, exc.detail, headers=exc.headers)


class _Disconnected(HarnessError):
    """The client went away before its request body arrived: nothing to answer."""


async def _read_body(headers: dict[str, str], receive: Receive) -> bytes | None:
    """The body, or None when it is over the limit (read no further than the limit)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


def _form(headers: dict[str, str], body: bytes | None) -> dict[str, list[str]] | None:
    if not body or headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return None
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return {}


def _json_fields(headers: dict[str, str], body: bytes | None) -> dict[str, list[str]] | None:
    """A JSON body's string values by dotted path, so a credential sent in a JSON body is seen
    as one sent in a form body (AUTH-01); None for another body or one that is not JSON."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if not body or not (media == "application/json" or media.endswith("+json")):
        return None
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    out: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            out.setdefault(path, []).append(item)
        elif isinstance(item, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((path, v) for v in item)
    return out


def oauth_paths(contract: Contract) -> frozenset[str]:
    """The paths of every OAuth2 flow's token and refresh URL, as given and relative to the
    API base: the sandbox serves them wherever the contract puts them."""
    found: set[str] = set()
    base = contract.base_path
    for scheme in contract.security_schemes.values():
        if not isinstance(scheme, dict) or scheme.get("type") != "oauth2":
            continue
        for flow in (scheme.get("flows") or {}).values():
            for key in ("tokenUrl", "refreshUrl"):
                url = flow.get(key) if isinstance(flow, dict) else None
                if not isinstance(url, str) or not url:
                    continue
                path = urlparse(url).path or "/"
                path = path if path.startswith("/") else "/" + path
                found.add(path)
                if base and path.startswith(base + "/"):
                    found.add(path[len(base) :])
    return frozenset(found)


def create_app(contract: Contract, admin_token: str | None = None, store: Store | None = None) -> Sandbox:
    return Sandbox(contract, admin_token, store)
