"""The connector's webhook endpoint, described as an OpenAPI document.

The contract's `webhooks` section says what the platform delivers; to the connector that is the
contract it serves: one POST on its webhook path with the webhooks' headers and a body of any
declared event. schemathesis fuzzes the endpoint from this document (WH-04 in certification,
the webhook target in `harness fuzz`), so both read it from here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from harness.contract.model import Contract


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
