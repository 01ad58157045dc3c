"""Benchmark: how many values per second the metric store records.

Run with ``.venv/bin/python bench/metrics.py``. Four shapes of the hot path
are timed (best of ``--repeat`` runs of ``--calls`` calls each):

- ``recorder``: ``Recorder.record(value, ts)`` with a kept recorder and
  latency-like values (log-normal), 1,000 values per second of data time;
- ``recorder_clock``: the same without ``ts``, so each call reads the clock
  (``SystemClock``);
- ``store_record``: ``MetricStore.record(namespace, name, dims, ...)``,
  which builds the metric key every call;
- ``invocation``: ``InvocationMetrics.invoked(...)``, the five records of
  one SageMaker invocation, counted as calls of ``invoked``.

Then the memory of one latency series receiving 1,000 values per second for
``--seconds`` seconds of data time (tracemalloc), extrapolated to the three
hours of per-second data the store keeps. Prints a JSON document, then a
table.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence

from moorage.clock import FakeClock, SystemClock
from moorage.monitoring import InvocationMetrics, MetricKey, MetricStore

START = 1_700_000_000.0
PER_SECOND = 1_000


def _values(n: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    # Latency-like: ~20 ms median in microseconds, long right tail.
    return [rng.lognormvariate(10.0, 0.5) for _ in range(n)]


def _best_rate(run: Callable[[], int], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        calls = run()
        best = max(best, calls / (time.perf_counter() - started))
    return best


def measure(calls: int, repeat: int, seconds: int) -> dict[str, object]:
    values = _values(calls)
    stamps = [START + n / PER_SECOND for n in range(calls)]
    key = MetricKey.of("AWS/SageMaker", "ModelLatency", {"EndpointName": "e", "VariantName": "v"})
    dims = {"EndpointName": "e", "VariantName": "v"}

    def recorder() -> int:
        record = MetricStore(FakeClock(START)).recorder(key, "Microseconds").record
        for value, ts in zip(values, stamps, strict=True):
            record(value, ts)
        return calls

    def recorder_clock() -> int:
        record = MetricStore(SystemClock()).recorder(key, "Microseconds").record
        for value in values:
            record(value)
        return calls

    def store_record() -> int:
        store = MetricStore(FakeClock(START))
        for value, ts in zip(values, stamps, strict=True):
            store.record("AWS/SageMaker", "ModelLatency", dims, value, "Microseconds", ts)
        return calls

    def invocation() -> int:
        clock = FakeClock(START)
        invoked = InvocationMetrics(MetricStore(clock)).invoked
        n = calls // 5
        for value in values[:n]:
            invoked("e", "v", None, 200, value / 1e6, 0.0001)
        return n

    rates = {
        "recorder": _best_rate(recorder, repeat),
        "recorder_clock": _best_rate(recorder_clock, repeat),
        "store_record": _best_rate(store_record, repeat),
        "invocation": _best_rate(invocation, repeat),
    }
    return {
        "benchmark": "metrics",
        "calls": calls,
        "repeat": repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "calls_per_second": rates,
        "memory": _memory(key, seconds),
    }


def _memory(key: MetricKey, seconds: int) -> dict[str, float]:
    values = _values(PER_SECOND * seconds, seed=11)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MetricStore(FakeClock(START))
    record = store.recorder(key, "Microseconds").record
    for n, value in enumerate(values):
        record(value, START + n / PER_SECOND)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    footprint = store.footprint()
    per_second = used / seconds
    return {
        "seconds": seconds,
        "values_per_second": PER_SECOND,
        "bytes_per_second_of_data": round(per_second),
        "sketch_bins_per_second": footprint.sketch_bins / max(footprint.second_buckets, 1),
        "mib_for_3h_at_1s": round(per_second * 3 * 3600 / 2**20, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=300)
    args = parser.parse_args(argv)
    report = measure(args.calls, args.repeat, args.seconds)
    print(json.dumps(report, indent=2))
    rates = report["calls_per_second"]
    memory = report["memory"]
    assert isinstance(rates, dict) and isinstance(memory, dict)
    print()
    print(f"{'path':<16}{'calls/s':>14}")
    for path, rate in rates.items():
        print(f"{path:<16}{rate:>14,.0f}")
    print(
        f"\none latency series at {PER_SECOND:,} values/s: "
        f"{memory['bytes_per_second_of_data']:,} bytes per second of data, "
        f"{memory['mib_for_3h_at_1s']} MiB for 3 h"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
