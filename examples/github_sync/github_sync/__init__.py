"""A reference connector for a GitHub-like platform (tests/contracts/github_like.openapi.yaml)."""

from github_sync.connector import GitHubSync

__all__ = ["GitHubSync"]
