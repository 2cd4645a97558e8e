"""Target `soak`: successive syncs in one connector process, its memory judged by its trend.

An input is a tenant and a number of syncs run one after the other by the same connector
process, as a scheduler that keeps a connector alive does: full syncs again and again, or
incremental ones after a few platform changes each (changes come only with incremental
syncs: a full sync brings nothing that removes a deleted record). After every sync the peak resident memory
of its processes is read; a peak that keeps rising after the first sync is a leak, however
small or large the peak itself (see `growth_problem`). Every sync must also finish, leak no
credential and leave the replica equal to the platform. Shrinking keeps the fewest syncs and
records that still show the rise; `hypothesis.target` pushes toward the steepest one.
"""

from __future__ import annotations

from hypothesis import strategies as st

from harness.fuzz.oracles import growth_problem, judge_run, secrets_of
from harness.fuzz.target import Example, Limits, Outcome, requests_outcome
from harness.fuzz.world import World

MIN_SYNCS, MAX_SYNCS = 5, 10  # the first is the warm-up: four more at least make a trend


class Soak:
    name = "soak"
    description = "successive syncs in one process: its peak memory must stop rising"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:
        streams = list(world.manifest.streams)
        page = int(world.manifest.config.get("page_size") or 100)
        return st.fixed_dictionaries(
            {
                "seed": st.integers(0, 2**31 - 1),
                "sizes": st.fixed_dictionaries({s: st.sampled_from([0, 3, page + 1]) for s in streams}),
                "syncs": st.integers(MIN_SYNCS, MAX_SYNCS),
                "incremental": st.booleans(),
                "churn": st.integers(0, 5),
            }
        )

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        tenant = world.tenant(example["seed"], example["sizes"])
        replica = world.replica()
        driver = world.connector(tenant, replica)  # one process for every sync
        peaks: list[int] = []
        try:
            secrets = secrets_of(world, tenant)
            seen = 0
            outcome = Outcome()
            for number in range(example["syncs"]):
                if number and example["churn"] and example["incremental"]:
                    tenant.churn(example["churn"], seed=example["seed"] + number)
                state = replica.state if example["incremental"] and number else None
                run = world.sync(tenant, replica, state, driver=driver, check_first=number == 0)
                requests = tenant.requests(seen)
                seen = max([seen, *(e.seq for e in requests)])
                step = requests_outcome(requests)
                outcome.operations |= step.operations
                if not step.fair:
                    return Outcome(operations=outcome.operations, fair=False)
                peaks.append(run.peak_kib)
                outcome.problems = judge_run(
                    world,
                    run,
                    after=f"after sync {number + 1} of {example['syncs']} in one process",
                    memory_mib=limits.memory_mib,
                    secrets=secrets,
                    requests=requests,
                )
                if outcome.problems:
                    return outcome
            grown = growth_problem(peaks)
            outcome.problems = [grown] if grown else []
            if len(peaks) > 1:
                outcome.scores["growth_kib"] = float(peaks[-1] - peaks[1 if len(peaks) > 2 else 0])
            return outcome
        finally:
            driver.close()
            tenant.delete()

    def describe(self, example: Example) -> str:
        sizes = ", ".join(f"{s}={n}" for s, n in example["sizes"].items())
        how = "incremental" if example["incremental"] else "full"
        churn = example["churn"] if example["incremental"] else 0
        churn_text = f", {churn} platform changes before each" if churn else ""
        syncs = f"{example['syncs']} {how} syncs in one process{churn_text}"
        return f"a tenant (seed {example['seed']}, {sizes}): {syncs}"
