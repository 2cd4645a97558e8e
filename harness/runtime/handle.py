"""SandboxHandle: everything a check or test needs from a running sandbox, whatever runs it.

Checks talk to the sandbox only through this handle (HTTP to the control API), so the same
check runs unchanged on an embedded, container or remote sandbox. The control API speaks JSON;
the handle hands back the evidence layer's types (`harness.core`): a `RequestLog`, `ChangeEvent`s,
`Fault`s, the sandbox's `Capabilities`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from harness.core import FAULT_KINDS, Capabilities, ChangeEvent, Fault, RequestLog
from harness.core.errors import HarnessError


class SandboxError(HarnessError, RuntimeError):
    """The sandbox refused or failed a control request; the message carries its problem detail,
    `status` the HTTP status it answered (0 when it did not answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class EgressRecorder(Protocol):
    """What a runtime that can see outbound traffic gives the handle (see `SandboxHandle.egress`)."""

    def recording(self) -> contextlib.AbstractContextManager[Any]: ...

    def entries(self) -> list[dict[str, Any]]: ...


@dataclass
class TenantHandle:
    sandbox: SandboxHandle
    id: str
    base_url: str
    token_url: str | None
    client_id: str
    client_secret: str
    scopes: list[str]
    seed: int
    sizes: dict[str, int]
    info: dict[str, Any] = field(default_factory=dict)
    token_operation: str | None = None  # the token endpoint's operationId: what `RequestLog.api()` leaves out
    _refresh_handed: bool = field(default=False, repr=False)

    def requests(self, since: int = 0) -> RequestLog:
        """The tenant's request log (after request `since`), as the sandbox recorded it."""
        data = self.sandbox._get(f"/tenants/{self.id}/requests", params={"since": since})["data"]
        return RequestLog.from_json(data, self.token_operation)

    def records(self, collection: str) -> list[dict[str, Any]]:
        """Ground truth: every current record of a collection, from the sandbox."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.sandbox._get(
                f"/tenants/{self.id}/records/{collection}", params={"offset": len(out), "limit": 5000}
            )
            out.extend(page["data"])
            if not page["data"] or len(out) >= page["total"]:
                return out

    def connector_config(
        self, scopes: list[str], extra: dict[str, Any] | None = None, webhook_secret: str | None = None
    ) -> dict[str, Any]:
        """The `config` mapping a connector is built with (see the connector contract): the
        client, and the scheme-specific names of its credentials (`api_key`, `username` and
        `password`, `refresh_token`) for the schemes the contract declares."""
        config: dict[str, Any] = {
            "base_url": self.base_url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scopes": list(scopes),
            "webhook_secret": webhook_secret,
        }
        sent = [(c.get("type"), str(c.get("value", ""))) for c in self.info.get("credentials") or ()]
        if any(kind == "apiKey" or (kind == "http" and v.startswith("Bearer ")) for kind, v in sent):
            config["api_key"] = self.client_secret  # the key, or the static bearer token
        if any(kind == "http" and v.startswith("Basic ") for kind, v in sent):
            config["username"], config["password"] = self.client_id, self.client_secret
        if self.info.get("refresh_token"):
            config["refresh_token"] = self.refresh_token()
        config.update(extra or {})
        return config

    def refresh_token(self) -> str:
        """A refresh token for one connector: the tenant's first, then a new one for each
        connector built (each its own authorization), so no connector spends another's."""
        if not self._refresh_handed:
            self._refresh_handed = True
            return str(self.info["refresh_token"])
        body = self.sandbox._request("POST", f"/tenants/{self.id}/refresh-tokens", json={}).json()
        return str(body["refresh_token"])

    def delete(self) -> None:
        self.sandbox._request("DELETE", f"/tenants/{self.id}")

    # -- driving the tenant (the control API, one method per route) ------------------------------

    def set_faults(self, rules: Sequence[Fault | Mapping[str, Any]]) -> list[Fault]:
        """Script faults (replacing any set before); a rule may also be the sandbox's JSON form."""
        body = {"rules": [r.to_json() if isinstance(r, Fault) else dict(r) for r in rules]}
        answer = self.sandbox._request("POST", f"/tenants/{self.id}/faults", json=body).json()
        return [Fault.from_json(r) for r in answer["rules"]]

    def clear_faults(self) -> None:
        self.sandbox._request("DELETE", f"/tenants/{self.id}/faults")

    def revoke(self, client_id: str | None = None) -> int:
        """Revoke every token (or one client and its tokens); returns how many tokens."""
        body = {"client_id": client_id} if client_id else {}
        return self.sandbox._request("POST", f"/tenants/{self.id}/revoke", json=body).json()["revoked_tokens"]

    def churn(self, n: int, seed: int, collections: list[str] | None = None) -> list[ChangeEvent]:
        body: dict[str, Any] = {"n": n, "seed": seed}
        if collections:
            body["collections"] = collections
        data = self.sandbox._request("POST", f"/tenants/{self.id}/churn", json=body).json()["data"]
        return [ChangeEvent.from_json(c) for c in data]

    def create(self, collection: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.sandbox._request(
            "POST", f"/tenants/{self.id}/records/{collection}", json=fields or {}
        ).json()

    def update(self, collection: str, record_id: Any, fields: dict[str, Any]) -> dict[str, Any]:
        path = f"/tenants/{self.id}/records/{collection}/{record_id}"
        return self.sandbox._request("PATCH", path, json=fields).json()

    def remove(self, collection: str, record_id: Any) -> None:
        self.sandbox._request("DELETE", f"/tenants/{self.id}/records/{collection}/{record_id}")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self.sandbox._request("POST", f"/tenants/{self.id}/clock", json={"advance": seconds}).json()

    def changes(self, since: int = 0) -> list[ChangeEvent]:
        """The change feed after change `since`: who changed which record how."""
        data = self.sandbox._get(f"/tenants/{self.id}/changes", params={"since": since})["data"]
        return [ChangeEvent.from_json(c) for c in data]

    def last_change(self) -> int:
        """The number of the latest change, 0 when there is none: a mark for `changes(since)`."""
        changes = self.changes()
        return changes[-1].seq if changes else 0

    def audit(self) -> dict[str, Any]:
        """The audit log and the problems its hash chain verification found (none when intact)."""
        return self.sandbox._get(f"/tenants/{self.id}/audit")

    def subscribe(
        self, url: str, types: list[str] | None = None, secret: str | None = None
    ) -> dict[str, Any]:
        """Deliver this tenant's events to a URL; returns the subscription with its signing secret."""
        body: dict[str, Any] = {"url": url}
        if types:
            body["types"] = types
        if secret:
            body["secret"] = secret
        return self.sandbox._request("POST", f"/tenants/{self.id}/webhooks", json=body).json()

    def deliveries(self) -> list[dict[str, Any]]:
        return self.sandbox._get(f"/tenants/{self.id}/deliveries")["data"]


# A client that keeps an idle connection as long as the server does reuses it just as the server
# closes it, and its request is lost ("Server disconnected without sending a response"): a check
# waiting on a connector's backoff then errored. The control client drops idle connections well
# before the sandbox does (runtime.http.KEEP_ALIVE_S), and sends an idempotent request it lost
# that way once more (a shared service behind a proxy may close sooner).
CONTROL_KEEPALIVE = 2.0
RETRIED = frozenset({"GET", "PUT", "DELETE"})  # idempotent: sent again once if the server hung up


def control_client(
    base_url: str, headers: Mapping[str, str], timeout: Any, verify: Any = True
) -> httpx.Client:
    """The HTTP client of the control API."""
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        verify=verify,
        limits=httpx.Limits(keepalive_expiry=CONTROL_KEEPALIVE),
    )


class SandboxHandle:
    """A running sandbox: its base URL, an admin client for the control API, and tenants."""

    def __init__(self, base_url: str, admin_token: str, kind: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.kind = kind
        self.admin = control_client(
            self.base_url + "/_sandbox", {"Authorization": f"Bearer {admin_token}"}, timeout
        )
        # Set by runtimes that can observe outbound traffic (the embedded one, for httpx clients).
        self.egress_recorder: EgressRecorder | None = None
        # Set by the embedded runtime: the native ids of this process's threads that serve the
        # sandbox, so a check can tell when the platform itself sat queued for a CPU.
        self.platform_threads: Callable[[], list[int]] = list
        self._capabilities: Capabilities | None = None

    def capabilities(self) -> Capabilities:
        """What this sandbox supports. A sandbox that states it in `health` (`fault_kinds`) is
        taken at its word; an older one is asked once, on a throwaway tenant, which fault kinds
        its control API accepts (a kind it does not know is refused with 422)."""
        if self._capabilities is None:
            stated = self.health().get("fault_kinds")
            kinds = frozenset(stated) if isinstance(stated, list) else self._probe_fault_kinds()
            self._capabilities = Capabilities(fault_kinds=kinds)
        return self._capabilities

    def _probe_fault_kinds(self) -> frozenset[str]:
        probe = self.new_tenant(seed=0)
        supported = set()
        try:
            for kind in FAULT_KINDS:
                try:
                    probe.set_faults([Fault(kind, times=0)])
                except SandboxError as exc:
                    if exc.status != 422:
                        raise
                else:
                    supported.add(kind)
        finally:
            probe.delete()
        return frozenset(supported)

    def egress(self) -> list[dict[str, Any]] | None:
        """Requests to hosts other than the platform seen during the last `recording_egress()`
        block: `{"method", "url", "host"}` with secrets stripped from the URL. None when this
        runtime cannot observe egress at all."""
        return None if self.egress_recorder is None else self.egress_recorder.entries()

    @contextlib.contextmanager
    def recording_egress(self) -> Iterator[bool]:
        """Record egress while the block runs (the log starts empty); yields False, recording
        nothing, when this runtime cannot observe egress."""
        if self.egress_recorder is None:
            yield False
            return
        with self.egress_recorder.recording():
            yield True

    def health(self) -> dict[str, Any]:
        return self._get("/health")

    def new_tenant(
        self,
        *,
        seed: int,
        sizes: dict[str, int] | None = None,
        token_ttl: int = 3600,
        scopes: list[str] | None = None,
        profile: str | None = None,
        rate_limit: tuple[float, int] | None = None,
        token_operation: str | None = None,
        evolve: int | None = None,
        adversarial: bool | None = None,
        lenient_ids: bool | None = None,
        client_secret: str | None = None,
    ) -> TenantHandle:
        """A fresh tenant; with `evolve`, served from the contract's next additive version for
        that seed (harness.contract.evolve), whose additions the answer's `evolved` lists;
        `adversarial=False`: the tidy platform; `lenient_ids`, `client_secret`: for suites
        written against a stateless mock (see createTenant in the control contract)."""
        spec: dict[str, Any] = {"seed": seed, "sizes": sizes or {}, "token_ttl": token_ttl}
        if adversarial is not None:
            spec["adversarial"] = adversarial
        if lenient_ids is not None:
            spec["lenient_ids"] = lenient_ids
        if client_secret is not None:
            spec["client_secret"] = client_secret
        if evolve is not None:
            spec["evolve"] = evolve
        if scopes is not None:
            spec["scopes"] = scopes
        if profile is not None:
            spec["profile"] = profile
        if rate_limit is not None:
            spec["rate_limit"] = {"rate": rate_limit[0], "burst": rate_limit[1]}
        body = self._request("POST", "/tenants", json=spec).json()
        return TenantHandle(
            self,
            body["id"],
            body["base_url"],
            body.get("token_url"),
            body["client_id"],
            body["client_secret"],
            body["scopes"],
            body["seed"],
            body["sizes"],
            body,
            token_operation,
        )

    def close(self) -> None:
        self.admin.close()

    def _get(self, path: str, **kwargs: Any) -> Any:
        return self._request("GET", path, **kwargs).json()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            try:
                response = self.admin.request(method, path, **kwargs)
            except httpx.RemoteProtocolError:
                if method not in RETRIED:  # a POST may have been acted on: never sent twice
                    raise
                response = self.admin.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SandboxError(
                f"the sandbox at {self.base_url} did not answer {method} {path}: {exc}"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise SandboxError(
                f"{method} /_sandbox{path} -> {response.status_code}: {detail}", response.status_code
            )
        return response
