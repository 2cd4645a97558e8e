"""WH-02 defect: never checks X-Hub-Signature-256 on the GitHub-like platform (any delivery is
"authentic"). It still dedups by X-GitHub-Delivery and applies events, so it looks complete,
but anyone who can reach the endpoint can write into the customer's data."""

from __future__ import annotations

from collections.abc import Mapping

from github_sync import GitHubSync


class SkipsHmacCheck(GitHubSync):
    def _is_authentic(self, headers: Mapping[str, str], raw: bytes) -> bool:
        return True
