"""Target `faults`: sequences of transient failures at any point of a sync (the sandbox's fault rules).

An input is a small tenant and up to three fault rules, each firing once: a 429/5xx status, a
dropped connection, a body cut off, a stall, an expired token, a committed write answered with
an error, or data changing under the sync, each on an operation the connector uses and after
any number of its requests. That is what production does on a bad day, and no more: a connector
that retries with backoff finishes. After the faulted sync the faults stop and one more sync
from its last checkpoint runs; the replica must then equal the platform, and no call may crash,
hang, leak or blow up its memory. Shrinking keeps the one rule, the earliest point, that breaks it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from harness.fuzz.oracles import judge_run, secrets_of
from harness.fuzz.target import Example, Limits, Outcome, requests_outcome
from harness.fuzz.world import World

MAX_RULES = 3  # transient failures per sync, each firing once: a connector must outlast them
KINDS = ("status", "drop", "truncate", "latency", "expire_token", "status_after", "churn")
STATUSES = (429, 500, 502, 503, 504)
STALLS_MS = (50, 400, 2000)  # well under any sane client timeout
AFTER = "after a sync with transient failures and one more sync from its checkpoint"


class Faults:
    name = "faults"
    description = "transient failures anywhere in a sync: statuses, drops, truncation, stalls, expiry"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:
        operations = world.operations() or ["*"]
        rule = st.fixed_dictionaries(
            {
                "kind": st.sampled_from(KINDS),
                "operation": st.sampled_from(operations),
                "after": st.one_of(st.integers(0, 2), st.integers(0, 12)),
                "status": st.sampled_from(STATUSES),
                "latency_ms": st.sampled_from(STALLS_MS),
                "retry_after": st.integers(0, 1),
                "churn": st.integers(1, 5),
            }
        )
        streams = list(world.manifest.streams)
        page = int(world.manifest.config.get("page_size") or 100)
        return st.fixed_dictionaries(
            {
                "seed": st.integers(0, 2**31 - 1),
                "sizes": st.fixed_dictionaries({s: st.sampled_from([0, 3, page + 1]) for s in streams}),
                "rules": st.lists(rule, min_size=1, max_size=MAX_RULES),
            }
        )

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        tenant = world.tenant(example["seed"], example["sizes"])
        replica = world.replica()
        driver = world.connector(tenant, replica)  # one process for both syncs, as in production
        try:
            tenant.set_faults([_rule(r) for r in example["rules"]])
            first = world.sync(tenant, replica, driver=driver)
            tenant.clear_faults()
            requests = tenant.requests()
            outcome = requests_outcome(requests)
            outcome.scores["faults fired"] = float(sum(len(e.faults) for e in requests))
            secrets = secrets_of(world, tenant)
            outcome.problems = judge_run(
                world,
                first,
                after="",
                memory_mib=limits.memory_mib,
                secrets=secrets,
                converge=False,
                requests=requests,
            )
            if outcome.problems:
                return outcome
            # changes made under the sync are for the next one: resume from its checkpoint
            second = world.sync(tenant, replica, replica.state, driver=driver, check_first=False)
            outcome.problems = judge_run(
                world,
                second,
                after=AFTER,
                memory_mib=limits.memory_mib,
                secrets=secrets,
                requests=tenant.requests(max([0, *(e.seq for e in requests)])),
            )
            return outcome
        finally:
            driver.close()
            tenant.delete()

    def describe(self, example: Example) -> str:
        sizes = ", ".join(f"{s}={n}" for s, n in example["sizes"].items())
        rules = "; ".join(_phrase(r) for r in example["rules"])
        return f"a tenant (seed {example['seed']}, {sizes}) with faults: {rules}"


def _rule(spec: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's fault rule for one drawn fault: it fires once."""
    rule: dict[str, Any] = {"kind": spec["kind"], "operation": spec["operation"], "after": spec["after"]}
    rule["times"] = 1
    if spec["kind"] in ("status", "status_after"):
        rule["status"] = spec["status"]
        rule["retry_after"] = spec["retry_after"]
    elif spec["kind"] == "latency":
        rule["latency_ms"] = spec["latency_ms"]
    elif spec["kind"] == "churn":
        rule["churn"] = spec["churn"]
    return rule


def _phrase(spec: dict[str, Any]) -> str:
    rule = _rule(spec)
    what = {
        "status": f"answer {rule.get('status')}",
        "status_after": f"apply, then answer {rule.get('status')}",
        "latency": f"stall {rule.get('latency_ms')} ms",
        "churn": f"change {rule.get('churn')} records",
        "drop": "drop the connection",
        "truncate": "cut the body off",
        "expire_token": "expire the token",
    }[rule["kind"]]
    return f"{what} on {rule['operation']} request {rule['after'] + 1}"
