"""INT-01 defect: declares issues and comments synced under every repository
(`[connector.parents]`) but syncs them under the one repository of its config, as a
single-repository client would. The other repositories' issues never reach the replica."""

from __future__ import annotations

from github_sync import GitHubSync


class SyncsOneParent(GitHubSync):
    def _repos(self, stream: str) -> list[tuple[str, str]]:
        listed = super()._repos(stream)
        return listed[:1]
