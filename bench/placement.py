"""Benchmark: placing 10,000 copies over 1,000 instances with each strategy.

Run with ``.venv/bin/python bench/placement.py``. Three shapes of the same
work are timed, for SPREAD and BINPACK:

- ``one_call``: one ``place_all`` with 100 components x 100 copies of mixed
  requirements (fractional vCPUs, memory, some with GPUs);
- ``per_component``: the same 100 components placed by 100 ``place`` calls,
  each starting again from immutable instances (what a reconciler tick that
  scales several components does);
- ``single_component``: one ``place`` of 10,000 identical copies.

Prints a JSON document, then a table. Timings are the best of ``--repeat``
runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence

from moorage.placement import (
    CopyRequest,
    InstanceSlot,
    Requirements,
    Strategy,
    default_catalog,
    place,
    place_all,
)

INSTANCES = 1_000
COMPONENTS = 100
COPIES_PER_COMPONENT = 100
INSTANCE_TYPE = "ml.g5.48xlarge"  # 192 vCPUs, 768 GiB, 8 GPUs


def _requests(strategy: Strategy, seed: int) -> list[CopyRequest]:
    rng = random.Random(seed)
    requests = []
    for n in range(COMPONENTS):
        requirements = Requirements(
            cpus=rng.choice([0.25, 0.5, 1, 1.5, 2, 4]),
            accelerators=1 if n % 5 == 0 else 0,
            min_memory_mb=rng.choice([512, 1024, 2048, 4096, 8192]),
            max_memory_mb=rng.choice([None, 16384]),
        )
        requests.append(CopyRequest(f"model-{n}", requirements, COPIES_PER_COMPONENT, strategy))
    return requests


def _best_ms(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def measure(repeat: int) -> dict[str, object]:
    kind = default_catalog().get(INSTANCE_TYPE)
    instances = tuple(InstanceSlot(f"i-{n}", kind) for n in range(INSTANCES))
    results: dict[str, dict[str, float]] = {}
    for strategy in Strategy:
        requests = _requests(strategy, seed=7)

        def per_component(requests: Sequence[CopyRequest] = requests) -> None:
            current: tuple[InstanceSlot, ...] = instances
            for r in requests:
                current = place(current, r.component, r.requirements, r.count, r.strategy).instances

        placed = place_all(instances, requests)
        # A benchmark of a placement that does not place everything measures nothing.
        assert len(placed.assignments) == COMPONENTS * COPIES_PER_COMPONENT
        single = requests[1]
        results[strategy.value] = {
            "one_call_ms": _best_ms(functools.partial(place_all, instances, requests), repeat),
            "per_component_ms": _best_ms(per_component, repeat),
            "single_component_ms": _best_ms(
                functools.partial(
                    place,
                    instances,
                    single.component,
                    single.requirements,
                    COMPONENTS * COPIES_PER_COMPONENT,
                    strategy,
                ),
                repeat,
            ),
        }
    return {
        "benchmark": "placement",
        "instances": INSTANCES,
        "instance_type": INSTANCE_TYPE,
        "copies": COMPONENTS * COPIES_PER_COMPONENT,
        "components": COMPONENTS,
        "repeat": repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results_ms": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    report = measure(args.repeat)
    print(json.dumps(report, indent=2))
    results = report["results_ms"]
    assert isinstance(results, dict)
    print()
    print(f"{'strategy':<10}{'one_call':>12}{'per_component':>16}{'single_component':>19}")
    for strategy, row in results.items():
        print(
            f"{strategy:<10}{row['one_call_ms']:>10.1f}ms{row['per_component_ms']:>14.1f}ms"
            f"{row['single_component_ms']:>17.1f}ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
