"""AUTH-01 defect: puts the access token in the URL (`?access_token=`), falling back to the
Authorization header only when the platform refuses. The sync completes, but every token has
been written into URLs that proxies and access logs keep."""

from __future__ import annotations

from typing import Any

import httpx
from acme_sync import AcmeSync


class TokenInQuery(AcmeSync):
    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        params = dict(kwargs.pop("params", None) or {})
        try:
            leaked = self._client.request(
                method, self._url(path), params={**params, "access_token": self._access_token()}
            )
            if leaked.is_success:
                return leaked.json()
        except (httpx.HTTPError, ValueError):
            pass  # whatever went wrong, the proper request below gets the connector's full retry logic
        return super()._api(method, path, params=params or None, **kwargs)
