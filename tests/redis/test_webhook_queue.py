"""Webhook deliveries through the shared queue: with two replicas each attempt reaches the
receiver once, retries back off, and a delivery survives the replica that was making it."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.redis.replicas import start_replica, token


class Receiver(BaseHTTPRequestHandler):
    """/ok answers 204; /flaky answers 503 to a message's first two attempts; /kill SIGKILLs the
    process named by `victim` on a message's first attempt, then answers 204."""

    seen: dict[str, list[tuple[str, float]]] = defaultdict(list)
    victim: int | None = None
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        message = self.headers["webhook-id"]
        with self.lock:
            self.seen[message].append((self.path, time.monotonic()))
            count = len(self.seen[message])
        if self.path == "/kill" and count == 1 and Receiver.victim:
            os.kill(Receiver.victim, signal.SIGKILL)  # the replica dies in the middle of the attempt
            time.sleep(0.5)
        status = 503 if self.path == "/flaky" and count <= 2 else 204
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope="module")
def replicas(redis_server):
    started = [start_replica(redis_server.url), start_replica(redis_server.url)]
    try:
        yield started
    finally:
        for replica in started:
            replica.stop()


def new_contact(replica, tenant, headers):
    body = {"email": "w@example.com", "first_name": "W", "last_name": "Q"}
    response = httpx.post(replica.api(tenant["id"]) + "/v1/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.text


def until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def deliveries(replica, tenant):
    return replica.admin.get(f"/_sandbox/tenants/{tenant['id']}/deliveries").json()["data"]


def setup_tenant(replica, receiver, path):
    tenant = replica.admin.post("/_sandbox/tenants", json={"seed": 2, "sizes": {"contacts": 1}}).json()
    sub = replica.admin.post(
        f"/_sandbox/tenants/{tenant['id']}/webhooks",
        json={"url": receiver + path, "types": ["contact.created"]},
    )
    assert sub.status_code == 201, sub.text
    return tenant, {"Authorization": f"Bearer {token(replica, tenant)}"}


def test_each_attempt_reaches_the_receiver_once_whatever_the_number_of_replicas(replicas, receiver):
    a, b = replicas
    tenant, headers = setup_tenant(a, receiver, "/ok")
    for _ in range(3):
        new_contact(b, tenant, headers)
    log = until(lambda: (d := deliveries(a, tenant)) and len(d) >= 3 and d)
    time.sleep(1.0)  # time enough for a second replica to deliver again, if it would
    messages = {d["message"] for d in deliveries(b, tenant)}
    assert len(messages) == 3 and len(deliveries(b, tenant)) == 3
    assert [len(Receiver.seen[m]) for m in messages] == [1, 1, 1]
    assert {(d["attempt"], d["status"]) for d in log} == {(1, 204)}


def test_a_failing_delivery_is_retried_once_per_attempt_with_backoff(replicas, receiver):
    a, b = replicas
    tenant, headers = setup_tenant(b, receiver, "/flaky")
    new_contact(a, tenant, headers)
    log = until(lambda: (d := deliveries(a, tenant)) and len(d) >= 3 and d)
    assert [(d["attempt"], d["status"]) for d in log] == [(1, 503), (2, 503), (3, 204)]
    times = [moment for _, moment in Receiver.seen[log[0]["message"]]]
    assert len(times) == 3
    # backoff: each retry waits at least its share (0.2 s, then 0.4 s): a slow machine only waits longer
    assert times[1] - times[0] >= 0.2 and times[2] - times[1] >= 0.4


def test_a_delivery_survives_the_replica_that_was_making_it(redis_server, receiver):
    # a database of its own: no other replica's worker may take the job
    alone = redis_server.url.rsplit("/", 1)[0] + "/1"
    doomed = start_replica(alone)
    tenant, headers = setup_tenant(doomed, receiver, "/kill")
    Receiver.victim = doomed.proc.pid
    successor = None
    try:
        new_contact(doomed, tenant, headers)
        until(lambda: doomed.proc.poll() is not None)  # killed while its attempt was under way
        successor = start_replica(alone)  # the restarted replica takes the job over
        log = until(lambda: deliveries(successor, tenant), timeout=60)
        assert [(d["attempt"], d["status"]) for d in log] == [(1, 204)]
        assert len(Receiver.seen[log[0]["message"]]) == 2  # the cut attempt, and the one made again
    finally:
        Receiver.victim = None
        if doomed.proc.poll() is None:
            doomed.kill()
        if successor is not None:
            successor.stop()
