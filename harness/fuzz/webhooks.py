"""Target `webhooks`: correctly signed deliveries with hostile bodies to the connector's endpoint.

Bodies come from schemathesis over the declared webhooks' schemas, valid events with unusual
values and events that break the schema (wrong types, missing fields, unknown event types),
and from raw bytes: not JSON, not UTF-8, deeply nested, empty. Every delivery is signed
(Standard Webhooks) with the connector's own secret, so it gets past the signature check and
reaches its parsing. Every delivery must be answered with a 2xx or a 4xx: never a 5xx, a crash
or a hang, and no credential may show in what it writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from hypothesis import strategies as st

from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.fuzz.oracles import (
    Problem,
    call_problem,
    frame_of,
    leak_problem,
    memory_problem,
    places,
    url_leak_problem,
)
from harness.fuzz.schemas import webhook_strategy
from harness.fuzz.target import Example, Limits, Outcome
from harness.fuzz.world import World

SECRET = "whsec_" + base64.b64encode(b"connector-harness fuzz campaign!").decode()
CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "text/plain")


class Webhooks:
    name = "webhooks"
    description = "signed deliveries with hostile bodies to its webhook endpoint: no 5xx, crash or hang"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:
        if not world.manifest.webhooks:
            return st.nothing()
        sources: list[st.SearchStrategy[bytes]] = []
        for mode in ("positive", "negative"):
            bodies = webhook_strategy(world, mode)
            if bodies is not None:
                sources.append(bodies.flatmap(_encoded))
        nested = st.integers(1, 2000).map(lambda depth: b"[" * depth + b"]" * depth)
        sources += [st.binary(max_size=64), nested]
        return st.fixed_dictionaries(
            {
                "body": st.one_of(*sources).map(lambda raw: base64.b64encode(raw).decode()),
                "content_type": st.sampled_from(CONTENT_TYPES),
            }
        )

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        tenant = world._cache.get("webhook tenant")
        if tenant is None:
            tenant = world._cache["webhook tenant"] = world.tenant(world.seed_for("webhooks"), {})
        body = base64.b64decode(example["body"])
        headers = {**sign(SECRET, body), "content-type": example["content_type"]}
        replica = Replica(id_fields={n: c.id_field for n, c in world.contract.collections.items()})
        seen = int(world._cache.get("webhook requests seen", 0))  # the tenant is shared
        driver = world.connector(tenant, replica, webhook_secret=SECRET)
        outcome = Outcome(operations={"webhook"})
        errors: list[Any] = []
        try:
            status = driver.handle_webhook(headers, body)
        except (ConnectorFailed, ConnectorTimeout) as exc:
            errors.append(exc)
            outcome.problems.append(call_problem(exc, world.code_roots()))
            status = None
        finally:
            diagnostics = driver.diagnostics()
            driver.close()
        if status is not None and status >= 500:
            where = frame_of("\n".join(diagnostics.stderr), world.code_roots()) or "no traceback"
            outcome.problems.append(
                Problem(
                    "5xx", f"answered {status} to a correctly signed delivery", f"status {status} at {where}"
                )
            )
        memory = memory_problem(diagnostics.peak_kib, limits.memory_mib)
        secrets = {"the client secret": tenant.client_secret, "the webhook secret": SECRET}
        made = tenant.requests(seen)  # the requests this delivery made it make, if any
        world._cache["webhook requests seen"] = max([seen, *(e.seq for e in made)])
        leak = leak_problem(secrets, places(replica, diagnostics.stderr, errors)) or url_leak_problem(
            secrets, made, world.credential_shapes()
        )
        outcome.problems += [p for p in (memory, leak) if p]
        outcome.scores["body bytes"] = float(len(body))
        return outcome

    def describe(self, example: Example) -> str:
        body = base64.b64decode(example["body"])
        shown = body[:300].decode("utf-8", "replace") + ("…" if len(body) > 300 else "")
        return f"a correctly signed delivery ({example['content_type']}) whose body is {shown!r}"


def _encoded(body: Any) -> st.SearchStrategy[bytes]:
    """A generated body as bytes: JSON when it is a JSON value, as is when it is bytes."""
    if isinstance(body, bytes | bytearray):
        return st.just(bytes(body))
    if body is None or type(body).__name__ == "NotSet":
        return st.just(b"")
    try:
        return st.just(json.dumps(body, allow_nan=False).encode())
    except (TypeError, ValueError):
        return st.just(b"")


def sign(secret: str, payload: bytes, msg_id: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers for any body (also one that is not UTF-8); the id is the body's
    digest, so a replayed finding sends the same message."""
    msg_id = msg_id or "msg_" + hashlib.sha256(payload).hexdigest()[:24]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = str(int(time.time()))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
