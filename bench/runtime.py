"""Time to ready for each sandbox runtime: prints numbers, asserts nothing.

Time to ready = from asking the runtime for a sandbox until its health endpoint answers and the
SandboxHandle is returned; the median of RUNS starts. Targets (issue 6): embedded under 0.5 s,
container under 3 s once the image exists (`harness image build`). The container is measured
only when Docker answers and the image is there; otherwise the line says why not.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.contract import default_contract_path, load
from harness.runtime import ContainerSandbox, EmbeddedSandbox
from harness.runtime.container import DEFAULT_IMAGE, unavailable

RUNS = 5


def median_start(start: Callable[[], Callable[[], None]], runs: int = RUNS) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        stop = start()
        times.append(time.perf_counter() - began)
        stop()
    return statistics.median(times), times


def report(name: str, target: float, result: tuple[float, list[float]]) -> None:
    median, times = result
    verdict = "meets" if median < target else "MISSES"
    runs = " ".join(f"{t:.2f}" for t in times)
    print(f"{name:<36} median {median:6.3f} s  (runs: {runs})  {verdict} the {target:g} s target")


def main() -> None:
    contract = load(default_contract_path())

    def embedded() -> Callable[[], None]:
        runtime = EmbeddedSandbox(contract)
        runtime.start().health()
        return runtime.stop

    def embedded_with_load() -> Callable[[], None]:
        runtime = EmbeddedSandbox(load(default_contract_path()))
        runtime.start().health()
        return runtime.stop

    def container() -> Callable[[], None]:
        runtime = ContainerSandbox(contract)
        runtime.start().health()
        return runtime.stop

    report("embedded", 0.5, median_start(embedded))
    report("embedded, contract loaded too", 0.5, median_start(embedded_with_load))
    why_not = unavailable()
    if why_not:
        print(f"{'container':<36} not measured: {why_not} (start Docker and run `harness image build`)")
        return
    report(f"container ({DEFAULT_IMAGE})", 3.0, median_start(container))


if __name__ == "__main__":
    main()
