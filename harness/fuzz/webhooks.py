"""Target `webhooks`: deliveries to the connector's webhook endpoint, from schemathesis and raw bytes.

schemathesis generates cases from the endpoint's own OpenAPI operation (the contract's
`webhooks` as a POST on the manifest's webhook path, see `endpoint`): valid events with unusual
values, negative cases (wrong types, missing fields, unknown event types, values outside the
schema), the edge cases of its coverage phase, and negative cases with the headers it generated
(missing or mangled signature headers). Raw bodies add what a schema cannot say: not JSON, not
UTF-8, deeply nested, empty. Every delivery but those with generated headers is signed with
the contract's scheme (harness.core.signing; Standard Webhooks by default) and the connector's
own secret, so it gets past the signature check and reaches its parsing. Every delivery must
be answered with a 2xx or a 4xx: never a 5xx, a crash or a hang, and no credential may show in
what it writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from hypothesis import strategies as st

from harness.connectors import ConnectorFailed, ConnectorTimeout, Replica
from harness.contract.endpoint import signing_of
from harness.core.signing import STANDARD
from harness.fuzz.endpoint import case_strategy, coverage_inputs, schemes
from harness.fuzz.oracles import (
    Problem,
    call_problem,
    frame_of,
    leak_problem,
    memory_problem,
    places,
    url_leak_problem,
)
from harness.fuzz.target import Example, Limits, Outcome
from harness.fuzz.world import World

SECRET = "whsec_" + base64.b64encode(b"connector-harness fuzz campaign!").decode()  # a plain key too
CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "text/plain")


class Webhooks:
    name = "webhooks"
    description = "signed deliveries with hostile bodies to its webhook endpoint: no 5xx, crash or hang"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:
        if not world.manifest.webhooks:
            return st.nothing()
        nested = st.integers(1, 2000).map(lambda depth: b"[" * depth + b"]" * depth)
        raw = st.fixed_dictionaries(
            {
                "body": st.one_of(st.binary(max_size=64), nested).map(lambda b: base64.b64encode(b).decode()),
                "content_type": st.sampled_from(CONTENT_TYPES),
                "headers": st.none(),
                "source": st.just("raw bytes"),
            }
        )
        cases = case_strategy(world)
        return raw if cases is None else st.one_of(cases, raw)

    def explicit(self, world: World) -> list[Example]:
        """schemathesis's coverage cases, tried first: a body of each wrong JSON type, each
        required property missing, a value of the wrong type in each property, ..."""
        return coverage_inputs(world) if world.manifest.webhooks else []

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        tenant = world._cache.get("webhook tenant")
        if tenant is None:
            tenant = world._cache["webhook tenant"] = world.tenant(world.seed_for("webhooks"), {})
        body = base64.b64decode(example["body"])
        generated = example.get("headers")  # None: signed with its secret
        signed = sign(world, body) if generated is None else dict(generated)
        headers = {**signed, "content-type": example["content_type"]}
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
                Problem("5xx", f"answered {status} to {_delivery(example)}", f"status {status} at {where}")
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
        source = f", {example['source']}" if example.get("source") else ""
        return f"{_delivery(example)} ({example['content_type']}{source}) whose body is {shown!r}"


def _delivery(example: Example) -> str:
    if example.get("headers") is None:
        return "a correctly signed delivery"
    return f"a delivery with the headers schemathesis generated ({json.dumps(example['headers'])})"


def sign(world: World, payload: bytes) -> dict[str, str]:
    """The contract scheme's headers for any body (also one that is not UTF-8); the delivery id
    is the body's digest, so a replayed finding sends the same message."""
    signing = signing_of(payload, schemes(world)) if world.manifest.webhooks else STANDARD
    digest = hashlib.sha256(payload).hexdigest()
    msg_id = "msg_" + digest[:24] if signing.scheme == STANDARD.scheme else _guid(digest)
    return signing.sign(SECRET, payload, msg_id=msg_id)


def _guid(digest: str) -> str:
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
