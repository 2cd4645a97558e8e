"""Webhook delivery as a queue: a Redis stream read by a consumer group of delivery workers.

Each job is one attempt. A worker (a thread in each replica) reads a job, attempts it, logs the
attempt in the tenant's delivery log, and, when the receiver wants it again later, puts the next
attempt in a sorted set by the time it is due (exponential backoff); due retries go back into
the stream. The group hands each job to one worker, so an attempt happens once whichever and
however many replicas run; a job whose worker died before acknowledging it is claimed by another
after CLAIM_IDLE, so a delivery survives a replica restart (the cut attempt is made again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from typing import Any

import redis

from harness.sandbox.webhooks import Subscription, attempt_once

STREAM = "hs:deliveries"
RETRIES = "hs:delivery-retries"
GROUP = "delivery"
CLAIM_IDLE_MS = 15_000  # longer than one attempt may take (its HTTP timeout is 10 s)
BLOCK_MS = 200

# Move due retries into the stream; ZREM decides which worker moves a job, so each moves once.
PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 64)
for _, job in ipairs(due) do
  if redis.call('ZREM', KEYS[1], job) == 1 then redis.call('XADD', KEYS[2], '*', 'job', job) end
end
return #due
"""

log = logging.getLogger("harness.sandbox")


class DeliveryQueue:
    def __init__(self, r: redis.Redis, guarded: Any, workers: int = 2) -> None:
        self.r, self._guarded, self.workers = r, guarded, workers
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._promote = r.register_script(PROMOTE)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._group()

    def _group(self) -> None:
        with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: another replica made it
            self.r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)

    def enqueue(
        self, prefix: str, sub: Subscription, headers: dict[str, str], payload: bytes, **job: Any
    ) -> None:
        """The first attempt of a delivery; `job` carries `attempts` and `backoff`."""
        self._add(
            {"p": prefix, "sub": sub.id, "url": sub.url, "h": headers, "b": payload.decode(), "n": 1, **job}
        )

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"harness-deliveries-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _add(self, job: dict[str, Any]) -> None:
        self.r.xadd(STREAM, {"job": json.dumps(job, separators=(",", ":"))})

    def _run(self) -> None:
        consumer = f"{self.name}:{threading.current_thread().name}"
        claimed_at = 0.0
        while not self._stop.is_set():
            try:
                self._promote(keys=[RETRIES, STREAM], args=[time.time()])
                batches: list[Any] = []
                if time.monotonic() - claimed_at > CLAIM_IDLE_MS / 3000:
                    claimed_at = time.monotonic()
                    _, messages, *_ = self.r.xautoclaim(
                        STREAM, GROUP, consumer, CLAIM_IDLE_MS, "0-0", count=16
                    )
                    batches.append(messages)
                for _, messages in (  # type: ignore[str-unpack]
                    self.r.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=8, block=BLOCK_MS) or []
                ):
                    batches.append(messages)
                for messages in batches:
                    for message_id, fields in messages:
                        self._handle(message_id, fields)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group()  # the stream was removed (a flushed Redis): start it again
            except redis.ConnectionError:
                if not self._stop.wait(0.5):
                    log.warning("webhook deliveries: Redis unreachable, retrying")
            except Exception:  # one bad job must not end deliveries for every tenant
                log.exception("webhook deliveries: a job failed")
                self._stop.wait(0.1)

    def _handle(self, message_id: bytes, fields: dict[bytes, bytes]) -> None:
        job = json.loads(fields[b"job"])
        meta = job["p"] + "meta"
        if self.r.exists(meta):  # a deleted tenant's deliveries are dropped
            sub = Subscription(job["sub"], frozenset(), "", job["url"])

            def record(entry: dict[str, Any]) -> None:
                self._guarded(
                    keys=[meta, job["p"] + "deliv"], args=["rpush", json.dumps(entry, separators=(",", ":"))]
                )

            final = attempt_once(sub, job["h"], job["b"].encode(), job["n"], record)
            if not final and job["n"] < job.get("attempts", 5):
                due = time.time() + job.get("backoff", 0.2) * 2 ** (job["n"] - 1)
                self.r.zadd(RETRIES, {json.dumps({**job, "n": job["n"] + 1}, separators=(",", ":")): due})
        pipe = self.r.pipeline(transaction=True)
        pipe.xack(STREAM, GROUP, message_id)
        pipe.xdel(STREAM, message_id)
        pipe.execute()
