"""A list page asked for again before anything in the tenant changed is served from memory.

Building a page (its records with the tenant's writes, self links, expansions, paging fields)
was about 45% of the sandbox's time on repeated list calls. A page is a pure function of the
tenant's data, the request (collection, query, path parameters) and the origin it is served
at, and the data moves only by its change log and its clock: an overlay's `version()`. So the
finished body is kept under that version, and dropped as soon as the version moves. Only a store
that sees every write in this process has a version; a shared store (Redis, where another
replica may write) has none, and its pages are always built. The response is still validated
against the contract each time (validity is cached for identical bytes, never assumed).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from harness.contract import Collection
from harness.sandbox.collections import ORIGIN, Query, list_records
from harness.sandbox.tenants import Tenant
from harness.synth.overlay import Overlay

MAX_PAGES = 32  # kept per tenant and version: a connector re-reading a few pages, not a whole sync


@dataclass
class Pages:
    """The pages kept for one version of one tenant's data."""

    version: Any = None
    kept: dict[tuple[Any, ...], tuple[bytes, dict[str, str]]] = field(default_factory=dict)


_PAGES: weakref.WeakKeyDictionary[Overlay, Pages] = weakref.WeakKeyDictionary()  # gone with the tenant


def list_page(
    col: Collection, tenant: Tenant, query: Query, path_params: dict[str, str], body: bytes
) -> Response:
    """`list_records`, with a page already built for this tenant's current data served again."""
    version = tenant.data.version()
    if version is None:
        return list_records(col, tenant, query, path_params, body)
    pages = _PAGES.get(tenant.data)
    if pages is None:
        pages = _PAGES[tenant.data] = Pages()
    key = (
        col.name,
        ORIGIN.get(),
        tuple(sorted(path_params.items())),
        tuple((name, tuple(values)) for name, values in sorted(query.items())),
        tenant.adversarial,
    )
    if pages.version == version and key in pages.kept:
        content, headers = pages.kept[key]
        return Response(content, headers=headers)  # its own Content-Type, Link and any other
    response = list_records(col, tenant, query, path_params, body)
    if response.status_code != 200 or tenant.data.version() != version:  # a write landed meanwhile
        return response
    if pages.version != version:
        pages.version, pages.kept = version, {}
    if len(pages.kept) < MAX_PAGES:
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        pages.kept[key] = (bytes(response.body), headers)
    return response
