"""Benchmark: the Ray fleet vs the local fleet, side by side in one run.

Run with ``.venv/bin/python bench/ray_fleet.py`` (``--quick`` for a short
run that only proves it works). It starts a small Ray cluster on this machine
(a head and one worker, as the Ray fleet's tests do:
``tests/support/ray_cluster.py``), then two ``moorage serve`` processes, each
with its own data dir: one with the local fleet, one with ``--fleet ray``
joined to the cluster. On each it measures:

- **create → InService**: ``CreateEndpoint`` of a one-instance endpoint
  serving a no-op model, until DescribeEndpoint says ``InService``
  (``--creates`` times, each endpoint deleted after);
- **routed requests**: ``POST /endpoints/NAME/invocations``, signed, at
  concurrency 1 and 8, with the load generator of ``bench/router.py``
  (keep-alive connections, rounds alternating which server goes first).
  On the local fleet the router reaches its copy over a Unix socket; on
  Ray over TCP to the node's address, through the copy's gateway
  (:mod:`moorage.fleet.ray.gateway`), which is the extra cost measured.

The ratios (Ray vs local) are the figures that carry over; absolute rates
depend on this machine, whose two cores the load generator, both servers,
the Ray processes and the model servers share. Everything started is stopped
on exit, Ctrl-C and failure alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from router import (  # noqa: E402
    ENDPOINT,
    Result,
    Server,
    client,
    deploy,
    machine,
    measure,
    model_and_config,
    routed,
    write_model,
)
from support.ray_cluster import ray_cluster  # noqa: E402


def create_to_in_service(url: str, artifact: Path, count: int) -> list[float]:
    """Seconds from CreateEndpoint to InService, ``count`` times (a fresh endpoint each)."""
    sm = client("sagemaker", url)
    name = "bench-create"
    model_and_config(sm, name, {"ModelDataUrl": artifact.as_uri()})
    took = []
    for _ in range(count):
        started = time.perf_counter()
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
            time.sleep(0.05)
        took.append(time.perf_counter() - started)
        sm.delete_endpoint(EndpointName=name)
        sm.get_waiter("endpoint_deleted").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 240}
        )
    return took


@contextlib.contextmanager
def servers(root: Path, address: str) -> Iterator[tuple[Server, Server]]:
    local = Server(root / "local")
    ray = Server(root / "ray", ("--fleet", "ray", "--ray-address", address))
    try:
        local.start()
        ray.start(timeout_s=120)
        yield local, ray
    finally:
        ray.stop()
        local.stop()


def compare(results: Sequence[Result]) -> list[dict[str, Any]]:
    by = {(r.target, r.concurrency): r for r in results}
    rows = []
    for concurrency in sorted({r.concurrency for r in results}):
        local, ray = by[("local", concurrency)], by[("ray", concurrency)]
        ratios = [r / w for r, w in zip(ray.round_rps, local.round_rps, strict=True)]
        rows.append(
            {
                "concurrency": concurrency,
                "local_p50_ms": round(local.percentile_ms(0.5), 3),
                "ray_p50_ms": round(ray.percentile_ms(0.5), 3),
                "ray_extra_p50_ms": round(ray.percentile_ms(0.5) - local.percentile_ms(0.5), 3),
                "local_rps": round(local.rps),
                "ray_rps": round(ray.rps),
                "ray_local_rps_ratio": round(statistics.median(ratios), 3),
            }
        )
    return rows


def table(rows: Sequence[dict[str, Any]], creates: dict[str, list[float]]) -> str:
    lines = [
        "| concurrency | local p50 ms | Ray p50 ms | Ray extra p50 ms | local req/s | "
        "Ray req/s | Ray/local req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['concurrency']} | {row['local_p50_ms']:.3f} | {row['ray_p50_ms']:.3f} | "
            f"{row['ray_extra_p50_ms']:+.3f} | {row['local_rps']:,} | {row['ray_rps']:,} | "
            f"{row['ray_local_rps_ratio']:.0%} |"
        )
    lines += ["", "| fleet | create → InService (median s) | runs |", "|---|---:|---:|"]
    for fleet, took in creates.items():
        lines.append(f"| {fleet} | {statistics.median(took):.2f} | {len(took)} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run that proves it works")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--creates", type=int, default=5, help="create → InService runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.creates = 100, 2, 1
    with tempfile.TemporaryDirectory(prefix="moorage-bench-ray-") as tmp:
        root = Path(tmp)
        artifact = write_model(root / "model.tar.gz")
        with (
            ray_cluster(1, cpus=2, memory_gib=12) as cluster,
            servers(root, cluster.address) as (local, ray),
        ):
            creates = {
                "local": create_to_in_service(local.url, artifact, args.creates),
                "ray": create_to_in_service(ray.url, artifact, args.creates),
            }
            deploy(local.url, artifact)
            deploy(ray.url, artifact)
            targets = [routed("local", local.url, True), routed("ray", ray.url, True)]
            results: list[Result] = []
            for concurrency in (1, 8):
                results += asyncio.run(
                    measure(targets, concurrency, args.requests, args.requests // 4, args.rounds)
                )
            for url in (local.url, ray.url):
                client("sagemaker", url).delete_endpoint(EndpointName=ENDPOINT)
    rows = compare(results)
    report = {
        "machine": machine(),
        "routed": rows,
        "create_to_in_service_s": {k: [round(t, 3) for t in v] for k, v in creates.items()},
    }
    print(json.dumps(report, indent=2))
    print(table(rows, creates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
