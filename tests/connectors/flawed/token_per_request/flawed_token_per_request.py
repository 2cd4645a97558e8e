"""AUTH-05 defect: it fetches a new access token for every request instead of reusing the one
it holds until it nears `expires_in` (an hour here): the token endpoint is hit once per page,
each call a credential check on the platform and one more live token that can leak."""

from __future__ import annotations

from acme_sync import AcmeSync


class TokenPerRequest(AcmeSync):
    def _token_is_fresh(self) -> bool:
        return False  # the defect: every request asks the token endpoint again
