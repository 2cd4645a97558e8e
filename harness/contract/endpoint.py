"""The connector's webhook endpoint, described as an OpenAPI document.

The contract's `webhooks` section says what the platform delivers; to the connector that is the
contract it serves: one POST on its webhook path with the webhooks' headers and a body of any
declared event. schemathesis fuzzes the endpoint from this document (WH-04 in certification,
the webhook target in `harness fuzz`), so both read it from here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from harness.contract.model import Contract
from harness.core.signing import STANDARD, Signing


def webhook_endpoint(
    contract: Contract, events: Iterable[str], path: str, *, title: str, version: str
) -> dict[str, Any] | None:
    """An OpenAPI document whose only operation is POST `path`, or None when none of `events`
    is a webhook the contract describes with a JSON body. The events' bodies are combined with
    `oneOf` (they share the path) and their header parameters merged."""
    doc = contract.document
    declared = set(events)
    parameters: dict[tuple[str, str], Any] = {}
    bodies: list[Any] = []
    for name, item in (doc.get("webhooks") or {}).items():
        if name not in declared:
            continue
        item, _ = contract.deref(item, contract.at("webhooks", name))
        post = item.get("post") or {}
        for raw in [*(item.get("parameters") or []), *(post.get("parameters") or [])]:
            param, _ = contract.deref(raw, contract.uri)
            parameters[(param.get("in"), str(param.get("name")).lower())] = copy.deepcopy(raw)
        request_body, _ = contract.deref(post.get("requestBody") or {}, contract.uri)
        schema = (request_body.get("content") or {}).get("application/json", {}).get("schema")
        if schema is not None and schema not in bodies:
            bodies.append(copy.deepcopy(schema))
    if not bodies:
        return None
    body = bodies[0] if len(bodies) == 1 else {"oneOf": bodies}
    return {
        "openapi": doc.get("openapi", "3.1.0"),
        "info": {"title": title, "version": version},
        "paths": {
            path: {
                "post": {
                    "operationId": "deliverWebhook",
                    "parameters": list(parameters.values()),
                    "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                    "responses": {"2XX": {"description": "Accepted."}, "4XX": {"description": "Refused."}},
                }
            }
        },
        "components": copy.deepcopy(doc.get("components") or {}),
    }


def coverage_body_cases(operation: Any) -> Iterator[Any]:
    """schemathesis's coverage-phase cases for `operation` whose body breaks its schema, in its
    order: a body of each wrong JSON type, each required property missing, an event type outside
    the enum, and so on. These deterministic edge cases go before the random ones. Its coverage
    generator is not public API, so another schemathesis 4.x yields nothing here (random cases
    only) rather than an error."""
    try:
        from schemathesis import GenerationMode
        from schemathesis.core.parameters import ParameterLocation
        from schemathesis.generation.drivers import CoverageGenerator
        from schemathesis.generation.feedback import FeedbackSources
        from schemathesis.generation.overrides import Override

        generator = CoverageGenerator(
            operation=operation,
            generation_modes=[GenerationMode.NEGATIVE],
            generation_config=operation.schema.config.generation_for(operation=operation, phase="coverage"),
            auth_storage=None,
            override=Override(),
            feedback=FeedbackSources(),
        )
        for case in generator:
            if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
                yield case
    except (ImportError, TypeError, AttributeError):
        return


def header_safe(text: str) -> bool:
    """Whether `text` can travel as an HTTP header name or value: Latin-1, one line."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in text and "\n" not in text


def signing_of(payload: bytes, schemes: Mapping[str, Signing]) -> Signing:
    """The scheme a fuzzed delivery is signed with: its event type's (the body's `type`, when it
    is JSON with a declared one), else the first declared event's; Standard Webhooks without any."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(kind, str) and kind in schemes:
        return schemes[kind]
    return next(iter(schemes.values()), STANDARD)
