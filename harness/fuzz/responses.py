"""Target `responses`: schema-valid but hostile API responses.

An input is a tenant (a seed, the `edge` or `small` dataset profile, a size per stream biased to
empty streams and page boundaries: an empty last page, one record past a page) plus records
planted with fields schemathesis draws from the collection's item schema (unicode of every
plane, empty and maximal strings, nulls, extreme numbers and dates). Every response still
conforms to the contract; an example whose responses do not is set aside as unfair. The
connector must not crash, hang, leak or blow up its memory, and its replica must equal the
platform. Shrinking drops the tenant to nothing and the planted fields to the one that breaks it.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from hypothesis import strategies as st

from harness.fuzz.oracles import judge_run, secrets_of
from harness.fuzz.schemas import body_strategy
from harness.fuzz.target import Example, Limits, Outcome, requests_outcome
from harness.fuzz.world import World

MAX_PLANTED = 3


class Responses:
    name = "responses"
    description = "schema-valid hostile responses: edge values, unicode, nulls, empty and full pages"

    def strategy(self, world: World) -> st.SearchStrategy[Example]:
        streams = list(world.manifest.streams)
        page = int(world.manifest.config.get("page_size") or 100)
        size = st.one_of(st.sampled_from([0, 1, page - 1, page, page + 1]), st.integers(0, 2 * page + 1))
        planted = st.one_of(
            *[body_strategy(world, stream).map(partial(_planted, stream)) for stream in streams]
        )
        return st.fixed_dictionaries(
            {
                "seed": st.integers(0, 2**31 - 1),
                "profile": st.sampled_from(["edge", "small"]),
                "sizes": st.fixed_dictionaries({s: size for s in streams}),
                "plant": st.lists(planted, max_size=MAX_PLANTED),
            }
        )

    def execute(self, world: World, example: Example, limits: Limits) -> Outcome:
        tenant = world.tenant(example["seed"], example["sizes"], example["profile"])
        try:
            for plant in example["plant"]:
                fixed = world.fixed_fields(plant["stream"])
                tenant.create(plant["stream"], {k: v for k, v in plant["fields"].items() if k not in fixed})
            run = world.sync(tenant)
            outcome = requests_outcome(tenant.requests())
            if outcome.fair:
                outcome.problems = judge_run(
                    world,
                    run,
                    after="after a full sync of hostile but valid pages",
                    memory_mib=limits.memory_mib,
                    secrets=secrets_of(world, tenant),
                    requests=tenant.requests(),
                )
            outcome.scores["peak_kib"] = float(run.peak_kib)
            return outcome
        finally:
            tenant.delete()

    def describe(self, example: Example) -> str:
        sizes = ", ".join(f"{s}={n}" for s, n in example["sizes"].items())
        plants = "; ".join(f"{p['stream']} {_short(p['fields'])}" for p in example["plant"])
        return f"a {example['profile']}-profile tenant (seed {example['seed']}, {sizes})" + (
            f" with planted records: {plants}" if plants else ""
        )


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "…"


def _planted(stream: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"stream": stream, "fields": fields}
