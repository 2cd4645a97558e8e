"""The GitHub-like connector that sends its static bearer token as `?access_token=` (GitHub's
retired style) instead of in `Authorization: Bearer`, where the contract's http bearer scheme
puts it: the token lands in every proxy and access log on the way."""

from __future__ import annotations

from typing import Any

import httpx
from github_sync.connector import GitHubSync


class BearerInQuery(GitHubSync):
    def _get(self, url: str, params: dict[str, Any] | None) -> httpx.Response:
        response = self._client.get(url, params={**(params or {}), "access_token": self._token})  # the defect
        response.raise_for_status()
        return response
