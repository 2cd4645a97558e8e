"""Synthetic data speed and memory: prints numbers, asserts nothing.

- records/s generating contacts by index, and the median time for a page of 100;
- the same for plain per-field Faker calls (the baseline a hand-written generator would have);
- RSS growth from a 1,000,000-contact tenant from which 10 scattered pages of 100 are read.
Targets (issue 4): page of 100 under 5 ms median; RSS growth under 20 MB.
"""

from __future__ import annotations

import random
import resource
import statistics
import time

from faker import Faker

from harness.contract import default_contract_path, load
from harness.synth import Dataset


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def page_times(make_page, pages: int = 30) -> list[float]:
    out = []
    for n in range(pages):
        started = time.perf_counter()
        make_page(n)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    contract = load(default_contract_path())
    before = rss_mb()
    ds = Dataset(contract, seed=1, sizes={"contacts": 1_000_000, "companies": 10_000, "deals": 10_000})
    rng = random.Random(0)
    for _ in range(10):
        start = rng.randrange(0, 1_000_000 - 100)
        list(ds.records("contacts", start, start + 100))
    grown = rss_mb() - before

    synth = page_times(lambda n: list(ds.records("contacts", n * 100, n * 100 + 100)))
    fake = Faker(use_weighting=False)

    def baseline(n: int) -> None:
        for i in range(100):
            fake.seed_instance(n * 100 + i)
            {
                "email": fake.email(),
                "first_name": fake.first_name(),
                "last_name": fake.last_name(),
                "phone": fake.phone_number(),
                "tags": [fake.word() for _ in range(3)],
                "created_at": fake.iso8601(),
                "updated_at": fake.iso8601(),
            }

    plain = page_times(baseline)
    s, b = statistics.median(synth), statistics.median(plain)
    print(f"synth    page of 100 contacts: median {s:6.2f} ms  ({100_000 / s:8.0f} records/s)  target < 5 ms")
    print(f"baseline page of 100 (plain Faker per field): median {b:6.2f} ms  ({100_000 / b:8.0f} records/s)")
    print(f"ratio synth/baseline: {s / b:.2f}")
    print(f"RSS growth, 1,000,000-contact tenant, 10 scattered pages read: {grown:.1f} MB  target < 20 MB")


if __name__ == "__main__":
    main()
