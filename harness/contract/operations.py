"""Read operations (and webhooks) out of an OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.contract.model import IMPLICIT_SCHEME, METHODS, Operation, Parameter, Response
from harness.contract.pointer import join

if TYPE_CHECKING:
    from harness.contract.model import Contract


def read_operations(contract: Contract) -> Iterator[Operation]:
    for path, item in (contract.document.get("paths") or {}).items():
        yield from _item_operations(contract, path, item, contract.at("paths", path), webhook=False)


def read_webhooks(contract: Contract) -> Iterator[Operation]:
    for name, item in (contract.document.get("webhooks") or {}).items():
        yield from _item_operations(contract, name, item, contract.at("webhooks", name), webhook=True)


def _item_operations(contract: Contract, path: str, item: Any, uri: str, webhook: bool):
    item, pointer = contract.deref(item, uri)
    shared = _parameters(contract, item.get("parameters") or [], f"{pointer}/parameters")
    global_security = contract.document.get("security") or []
    for method in METHODS:
        op = item.get(method)
        if not isinstance(op, dict):
            continue
        op_pointer = f"{pointer}/{method}"  # an absolute URI with a fragment
        params = dict(shared)
        params.update(_parameters(contract, op.get("parameters") or [], f"{op_pointer}/parameters"))
        required, media = _body(contract, op.get("requestBody"), f"{op_pointer}/requestBody")
        security = op.get("security", global_security)
        if not security and "security" not in op and _implicit(contract, op):
            security = [{IMPLICIT_SCHEME: []}]
        yield Operation(
            method=method.upper(),
            path=path,
            operation_id=op.get("operationId") or f"{method}{path}",
            pointer=op_pointer.partition("#")[2],
            parameters=tuple(params.values()),
            body_required=required,
            body_media=media,
            responses=_responses(contract, op.get("responses") or {}, f"{op_pointer}/responses"),
            security=tuple({k: tuple(v or ()) for k, v in req.items()} for req in security),
            extensions={k: v for k, v in op.items() if k.startswith("x-")},
            webhook=webhook,
        )


def _implicit(contract: Contract, op: dict[str, Any]) -> bool:
    """An operation that documents a 401 in a contract declaring no security scheme at all
    (GitHub's description): it needs a credential, so the sandbox's implicit token guards it."""
    declared = (contract.document.get("components") or {}).get("securitySchemes")
    return not declared and "401" in (op.get("responses") or {})


def _multi_segment(param: dict[str, Any]) -> bool:
    """A path parameter whose values span segments: GitHub marks them `x-multi-segment: true`
    (`{ref}` is `heads/feature-a`, sent unescaped by its SDKs)."""
    return param.get("x-multi-segment") is True


def _parameters(contract: Contract, raw: list[Any], pointer: str) -> dict[tuple[str, str], Parameter]:
    out = {}
    for index, node in enumerate(raw):
        param, uri = contract.deref(node, f"{pointer}/{index}")
        schema_node = param.get("schema")
        schema_uri = f"{uri}/schema" if schema_node is not None else None
        schema = contract.deref(schema_node, schema_uri)[0] if schema_uri else {}
        p = Parameter(
            name=param["name"],
            location=param["in"],
            required=bool(param.get("required")) or param["in"] == "path",
            schema_ref=schema_uri,
            schema=schema,
            style=str(param.get("style") or ""),
            explode=param["explode"] if isinstance(param.get("explode"), bool) else None,
            multi_segment=param["in"] == "path" and _multi_segment(param),
            allow_empty=param["in"] == "query" and param.get("allowEmptyValue") is True,
        )
        out[p.key] = p
    return out


def _body(contract: Contract, node: Any, pointer: str) -> tuple[bool, dict[str, str | None]]:
    if node is None:
        return False, {}
    body, uri = contract.deref(node, pointer)
    return bool(body.get("required")), _media(body.get("content") or {}, uri)


def _media(content: dict[str, Any], uri: str) -> dict[str, str | None]:
    return {
        media: (f"{uri}/content{join(media)}/schema" if "schema" in (spec or {}) else None)
        for media, spec in content.items()
    }


def _responses(contract: Contract, raw: dict[str, Any], pointer: str) -> dict[str, Response]:
    out = {}
    for status, node in raw.items():
        if str(status).startswith("x-"):
            continue
        response, uri = contract.deref(node, f"{pointer}{join(status)}")
        headers = {}
        for name, header_node in (response.get("headers") or {}).items():
            header, header_uri = contract.deref(header_node, f"{uri}/headers{join(name)}")
            schema_uri = f"{header_uri}/schema" if "schema" in header else None
            headers[name.lower()] = (bool(header.get("required")), schema_uri)
        key = "default" if str(status).lower() == "default" else str(status).upper()  # 4xx -> 4XX
        out[key] = Response(key, _media(response.get("content") or {}, uri), headers)
    return out
