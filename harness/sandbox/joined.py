"""Links an SDK joined to its base URL by string concatenation.

The sandbox answers link fields the contract declares `format: uri` (Twilio's `next_page_uri`,
`uri`) with absolute URLs, as the format demands. Twilio's own server sends a path there instead,
and twilio-python builds the next page's URL as `base_url + "/" + link`, so pointed at the
sandbox it asks for `/t/<tenant>/http://127.0.0.1:8000/t/<tenant>/2010-04-01/...`. Such a
request names, inside its path, a URL of the same tenant: it is served as a request for that URL.
A path that embeds any other URL is left alone (and is a 404 like any unknown path).
"""

from __future__ import annotations

import re

from starlette.types import Scope

_EMBEDDED = re.compile(r"(?:https?):/+([^/?#]*)(/[^?#]*)?")


def unjoined(scope: Scope, tenant_id: str, rest: str) -> tuple[Scope, str]:
    """The scope and tenant-relative path to serve: the embedded URL's where `rest` (the path
    after the tenant) is an absolute URL of this same tenant, else both unchanged."""
    match = _EMBEDDED.fullmatch(rest)
    if match is None:
        return scope, rest
    host, path = match.group(1), match.group(2) or "/"
    prefix = f"/t/{tenant_id}/"
    if path.startswith(prefix):  # http://host/t/<tenant>/...
        inner = path[len(prefix) :]
    elif host.partition(":")[0].partition(".")[0] == tenant_id:  # http://<tenant>.localhost/...
        inner = path.lstrip("/")
    else:
        return scope, rest
    full = scope.get("path", "")
    outer = full[: len(full) - len(rest)] if full.endswith(rest) else ""
    new_path = outer + inner
    return {**scope, "path": new_path, "raw_path": new_path.encode("utf-8")}, inner
