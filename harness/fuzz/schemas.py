"""Hypothesis strategies for records from the contract's item schemas, made by schemathesis.

schemathesis generates from an OpenAPI operation, so each collection's item schema becomes the
request body of one operation of a small document that shares the contract's components. (The
webhook endpoint has an operation of its own: see `endpoint`.)
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


def body_strategy(world: World, stream: str) -> st.SearchStrategy[dict[str, Any]]:
    """Records that conform to a collection's item schema."""
    from schemathesis import GenerationMode

    operation = _schema(world)[f"/records/{stream}"]["POST"]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    return cases.map(lambda case: case.body).filter(lambda body: isinstance(body, dict))
