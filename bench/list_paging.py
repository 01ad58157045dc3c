"""Benchmark: one page of ListEndpoints as the number of endpoints grows.

Run with ``.venv/bin/python bench/list_paging.py``. For each count of
endpoint records (default 10, 500, 5,000) it fills a SQLite store in a
temporary directory with endpoints of two variants that went through a
rollout (the size of a real record), then times the control plane's
``ListEndpoints`` handler in process, which is the server time of the call:

- ``first``: the first page of 100 (newest first, the default order);
- ``middle``: a page of 100 reached with a ``NextToken`` from half way;
- ``status``: a page of 100 with ``StatusEquals`` (one endpoint in ten);
- ``by_name``: a page of 100 sorted by name;
- ``decode_all``: what listing cost when every record was decoded and
  sorted in Python before cutting the page, for comparison.

Prints a JSON document, then a table; each figure is the median of
``--repeat`` calls, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moorage.arns import Partition
from moorage.clock import SystemClock
from moorage.control.context import ControlContext
from moorage.control.endpoints import EndpointsService
from moorage.domain.endpoint import (
    KIND,
    Endpoint,
    EndpointStatus,
    Group,
    ObservedVariant,
    VariantState,
    endpoint_from_record,
)
from moorage.store.sqlite import SqliteStore

PARTITION = Partition("us-east-1", "123456789012")


def endpoint(i: int) -> Endpoint:
    variants = tuple(
        VariantState(name, weight, weight, 2) for name, weight in (("Blue", 0.9), ("Green", 0.1))
    )
    groups = tuple(
        Group(f"g{i}-{n}", f"config-{i}", v.name, "ml.m5.large", 2, 2, v.weight)
        for n, v in enumerate(variants)
    )
    observed = {
        v.name: ObservedVariant(2, (("image", "sha256:" + "0" * 64, 1.0),), (("ok", "", 1.0),))
        for v in variants
    }
    name = f"endpoint-{i:05}"
    return Endpoint(
        name=name,
        arn=PARTITION.arn(KIND, name),
        created=1_700_000_000.0 + i,
        modified=1_700_000_000.0 + i,
        config_name=f"config-{i}",
        status=EndpointStatus.FAILED if i % 10 == 0 else EndpointStatus.IN_SERVICE,
        variants=variants,
        groups=groups,
        next_group=3,
        observed=observed,
        last_deployment_config={"BlueGreenUpdatePolicy": {"TerminationWaitInSeconds": 0}},
    )


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def decode_all(service: EndpointsService) -> list[Endpoint]:
    """Every record decoded and sorted, then one page cut (the former way)."""
    everything = [endpoint_from_record(r) for r in service.ctx.store.list_records(KIND)]
    everything.sort(key=lambda e: (e.created, e.name.lower()), reverse=True)
    return everything[:100]


def measure(count: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "moorage.db")
        try:
            with store.transaction():
                for i in range(count):
                    store.insert(endpoint(i).to_record())
            service = EndpointsService(ControlContext(store, SystemClock(), PARTITION))
            half: dict[str, Any] = {"MaxResults": max(1, count // 2)}
            token = service.list_endpoints(half)["NextToken"]
            calls: dict[str, Callable[[], object]] = {
                "first": lambda: service.list_endpoints({"MaxResults": 100}),
                "middle": lambda: service.list_endpoints({"MaxResults": 100, "NextToken": token}),
                "status": lambda: service.list_endpoints(
                    {"MaxResults": 100, "StatusEquals": "Failed"}
                ),
                "by_name": lambda: service.list_endpoints(
                    {"MaxResults": 100, "SortBy": "Name", "SortOrder": "Ascending"}
                ),
                "decode_all": lambda: decode_all(service),
            }
            return {label: round(median_ms(call, repeat), 3) for label, call in calls.items()}
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 500, 5000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    results = {str(count): measure(count, args.repeat) for count in args.counts}
    print(json.dumps({"page_ms": results}, indent=2))
    labels = list(next(iter(results.values())))
    print(f"\n| records | {' | '.join(labels)} |")
    print(f"|---:|{'---:|' * len(labels)}")
    for count, row in results.items():
        print(f"| {int(count):,} | {' | '.join(f'{row[label]:.2f}' for label in labels)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
