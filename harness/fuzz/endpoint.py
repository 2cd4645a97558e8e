"""The connector's webhook endpoint as an OpenAPI operation, and schemathesis cases for it.

The contract's `webhooks` section describes what the platform delivers; to the connector that
is the contract it serves: one POST on the manifest's `webhook_path` with the webhooks'
headers and a body of any declared event. schemathesis generates cases for that operation:
valid ones (positive), ones that break it (negative: wrong types, missing fields, values
outside the schema, bodies that are not JSON, headers missing or mangled) and the edge cases
of its coverage phase. Each case becomes a plain JSON input (body bytes, content type, and
either the generated headers or None for "sign it"), so a finding replays without schemathesis.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from harness.contract.endpoint import coverage_body_cases, header_safe, webhook_endpoint
from harness.contract.signing import signing_for
from harness.core.signing import Signing
from harness.fuzz.world import World

COVERAGE_CASES = 40  # deterministic edge cases of schemathesis's coverage phase, at most


def webhook_openapi(world: World) -> dict[str, Any] | None:
    """An OpenAPI document whose only operation is the connector's webhook endpoint, or None
    when the manifest declares no webhook the contract describes."""
    manifest = world.manifest
    return webhook_endpoint(
        world.contract,
        manifest.webhooks,
        manifest.webhook_path,
        title=f"{manifest.name} webhook endpoint",
        version=manifest.version,
    )


def schemes(world: World) -> dict[str, Signing]:
    """The signing scheme of each declared webhook, as the contract declares it."""
    if "schemes" not in world._cache:
        world._cache["schemes"] = {
            name: signing_for(world.contract, name) for name in world.manifest.webhooks
        }
    return dict(world._cache["schemes"])


def _operation(world: World) -> Any:
    """The schemathesis operation of the endpoint (made once per world), or None."""
    if "endpoint" not in world._cache:
        import schemathesis

        api = webhook_openapi(world)
        operation = None
        if api is not None:
            schema = schemathesis.openapi.from_dict(api, config=schemathesis.Config())
            operation = schema[world.manifest.webhook_path]["POST"]
        world._cache["endpoint"] = operation
    return world._cache["endpoint"]


def case_strategy(world: World) -> st.SearchStrategy[dict[str, Any]] | None:
    """Endpoint inputs from schemathesis: signed positive and negative cases, negative cases with
    the headers it generated (unsigned), and its coverage phase's edge cases; None without an
    endpoint."""
    from schemathesis import GenerationMode

    operation = _operation(world)
    if operation is None:
        return None
    placeholders = {k: v for signing in schemes(world).values() for k, v in signing.placeholders().items()}
    names = {k.lower() for k in placeholders}
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=placeholders)
    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, headers=placeholders)
    unsigned = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    sources = [
        positive.map(lambda case: to_input(case, "positive", signed=True)),
        negative.map(lambda case: to_input(case, "negative", signed=True)),
        unsigned.map(lambda case: to_input(case, "negative, its own headers", signed=False, names=names)),
    ]
    edge = coverage_inputs(world)  # run first as explicit examples; drawn again later, mutated by none
    if edge:
        sources.insert(0, st.sampled_from(edge))
    return st.one_of(*sources).filter(lambda example: example is not None)


def to_input(case: Any, source: str, *, signed: bool, names: set[str] | None = None) -> dict[str, Any] | None:
    """A schemathesis case as the target's JSON input, serialized as schemathesis sends it; None
    for one that cannot be sent (a header that is not latin-1, a body it cannot serialize)."""
    try:
        kwargs = case.as_transport_kwargs()
    except Exception:  # schemathesis refuses to serialize some negative cases: none of ours
        return None
    if "json" in kwargs:
        try:
            body = json.dumps(kwargs["json"], allow_nan=False).encode()
        except (TypeError, ValueError):
            return None
    else:
        data = kwargs.get("data", b"")
        body = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data or b"")
    raw_headers = {str(k).lower(): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    content_type = raw_headers.pop("content-type", case.media_type or "application/json")
    headers = None
    if not signed:
        keep = (lambda k: k in names) if names else (lambda k: k.startswith("webhook-"))
        headers = {k: v for k, v in raw_headers.items() if keep(k)}
        if not all(header_safe(k) and header_safe(v) for k, v in headers.items()):
            return None
    if not header_safe(content_type):
        return None
    return {
        "body": base64.b64encode(body).decode(),
        "content_type": content_type,
        "headers": headers,
        "source": f"schemathesis {source}",
    }


def coverage_inputs(world: World) -> list[dict[str, Any]]:
    """The body edge cases of schemathesis's coverage phase, in its order (a body of each wrong
    JSON type, each required property missing, an event type outside the enum, ...), signed;
    empty when this schemathesis has no coverage generator."""
    if "endpoint coverage" in world._cache:
        return list(world._cache["endpoint coverage"])
    operation = _operation(world)
    inputs: list[dict[str, Any]] = []
    if operation is not None:
        for case in coverage_body_cases(operation):
            made = to_input(case, "coverage", signed=True)
            if made is not None and made not in inputs:
                inputs.append(made)
            if len(inputs) >= COVERAGE_CASES:
                break
    world._cache["endpoint coverage"] = inputs
    return list(inputs)
