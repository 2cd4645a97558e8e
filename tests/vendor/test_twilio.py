"""twilio-python against the sandbox serving Twilio's published 2010-04-01 API spec: Queues
(`/2010-04-01/Accounts/{AccountSid}/Queues.json`), HTTP basic with the tenant's client id and
secret as account SID and auth token. The client id takes the contract's AccountSid pattern
(`^AC[0-9a-fA-F]{32}$`, see harness/sandbox/credentials.py), so the account paths accept it."""

from __future__ import annotations

import re

import pytest

rest = pytest.importorskip("twilio.rest")
from twilio.base.exceptions import TwilioRestException  # noqa: E402

VENDOR = "twilio"


def _account(tenant, secret: str | None = None):
    client = rest.Client(tenant.client_id, secret or tenant.client_secret)
    client.api.base_url = tenant.base_url  # only the host changes
    return client.api.v2010.accounts(tenant.client_id)


@pytest.fixture
def queue(tenant):
    return _account(tenant).queues.create(friendly_name="support")


def test_create(queue):
    assert queue.sid and queue.friendly_name == "support"


def test_read_back(tenant, queue):
    assert _account(tenant).queues(queue.sid).fetch().friendly_name == "support"


def test_update(tenant, queue):
    account = _account(tenant)
    account.queues(queue.sid).update(friendly_name="billing")
    assert account.queues(queue.sid).fetch().friendly_name == "billing"


def test_delete_then_read_after_delete(tenant, queue):
    account = _account(tenant)
    assert account.queues(queue.sid).delete() is True
    with pytest.raises(TwilioRestException) as refused:
        account.queues(queue.sid).fetch()
    assert refused.value.status == 404


def test_paging(tenant):
    account = _account(tenant)
    made = {account.queues.create(friendly_name=f"q{i}").sid for i in range(5)}
    seen = [q.sid for q in account.queues.stream(page_size=2)]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_account_sid_takes_the_contracts_pattern(tenant):
    assert re.fullmatch(r"AC[0-9a-fA-F]{32}", tenant.client_id)


def test_wrong_credential(tenant):
    with pytest.raises(TwilioRestException) as refused:
        _account(tenant, "wrong-auth-token").fetch()
    assert refused.value.status == 401
