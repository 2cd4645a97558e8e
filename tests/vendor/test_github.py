"""PyGithub against the sandbox serving GitHub's own description (`@octokit/openapi`):
repositories (`POST /user/repos`, `/repos/{owner}/{repo}`), with `base_url` changed only."""

from __future__ import annotations

import pytest

github = pytest.importorskip("github")

VENDOR = "github"


def _client(tenant, token: str | None = None, per_page: int = 30):
    return github.Github(
        base_url=tenant.base_url,
        auth=github.Auth.Token(token or tenant.client_secret),
        per_page=per_page,
        retry=None,
        timeout=30,
    )


@pytest.fixture
def repo(tenant):
    return _client(tenant).get_user().create_repo("demo", description="first")


def test_create(repo):
    assert repo.name == "demo" and repo.description == "first"


def test_read_back(tenant, repo):
    assert _client(tenant).get_repo(repo.full_name).description == "first"


def test_update(tenant, repo):
    repo.edit(description="second")
    assert _client(tenant).get_repo(repo.full_name).description == "second"


def test_delete_then_read_after_delete(tenant, repo):
    repo.delete()
    with pytest.raises(github.UnknownObjectException):
        _client(tenant).get_repo(repo.full_name)


def test_paging(tenant):
    client = _client(tenant, per_page=2)
    made = {client.get_user().create_repo(f"r{i}").full_name for i in range(5)}
    seen = [r.full_name for r in client.get_user().get_repos()]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_wrong_credential(tenant):
    with pytest.raises(github.GithubException) as refused:
        _client(tenant, "ghp_wrong").get_user().login  # noqa: B018
    assert refused.value.status == 401
