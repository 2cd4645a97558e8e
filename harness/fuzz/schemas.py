"""Hypothesis strategies for JSON bodies from the contract's schemas, made by schemathesis.

schemathesis generates from an OpenAPI operation, so each schema the fuzzer needs (a
collection's item schema, the body of the declared webhooks) becomes the request body of one
operation of a small document that shares the contract's components.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from harness.fuzz.world import World


def _schema(world: World) -> Any:
    if "schemathesis" not in world._cache:
        import schemathesis

        doc = world.contract.document
        paths: dict[str, Any] = {}
        for name, col in world.contract.collections.items():
            pointer = col.item_schema_uri.partition("#")[2]
            paths[f"/records/{name}"] = _post(f"plant_{name}", {"$ref": "#" + pointer})
        bodies = _webhook_bodies(world)
        if bodies:
            paths["/webhook"] = _post("webhook", bodies[0] if len(bodies) == 1 else {"oneOf": bodies})
        api = {
            "openapi": doc.get("openapi", "3.1.0"),
            "info": {"title": f"{world.manifest.name} fuzz bodies", "version": "1"},
            "paths": paths,
            "components": copy.deepcopy(doc.get("components") or {}),
        }
        world._cache["schemathesis"] = schemathesis.openapi.from_dict(api, config=schemathesis.Config())
    return world._cache["schemathesis"]


def _post(operation_id: str, schema: Any) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {"200": {"description": "ok"}},
        }
    }


def _webhook_bodies(world: World) -> list[Any]:
    """The JSON body schemas of the webhooks the manifest declares, inlined from the contract."""
    declared = set(world.manifest.webhooks)
    bodies: list[Any] = []
    for name, item in (world.contract.document.get("webhooks") or {}).items():
        if name not in declared:
            continue
        item, _ = world.contract.deref(item, world.contract.at("webhooks", name))
        body, _ = world.contract.deref((item.get("post") or {}).get("requestBody") or {}, world.contract.uri)
        schema = (body.get("content") or {}).get("application/json", {}).get("schema")
        if schema is not None and schema not in bodies:
            bodies.append(copy.deepcopy(schema))
    return bodies


def body_strategy(world: World, stream: str) -> st.SearchStrategy[dict[str, Any]]:
    """Records that conform to a collection's item schema."""
    from schemathesis import GenerationMode

    operation = _schema(world)[f"/records/{stream}"]["POST"]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    return cases.map(lambda case: case.body).filter(lambda body: isinstance(body, dict))


def webhook_strategy(world: World, mode: str) -> st.SearchStrategy[Any] | None:
    """Webhook bodies: valid events (`positive`) or ones breaking the schema (`negative`); None
    when the manifest declares no webhook the contract describes."""
    from schemathesis import GenerationMode

    if not _webhook_bodies(world):
        return None
    schema = _schema(world)
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    cases = schema["/webhook"]["POST"].as_strategy(generation_mode=generation)
    return cases.map(lambda case: case.body)
