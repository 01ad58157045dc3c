"""Benchmark: invocation throughput with 0, 1 and 2 router processes (``--workers``).

Run with ``.venv/bin/python bench/router_workers.py``. It starts one
``moorage serve`` per ``--workers`` value (each with the no-op endpoint of
``bench/router.py``) and drives them side by side, in alternating rounds,
with the same signed load from the same load generator, together with the
first server's model server called directly:

- ``direct``: ``POST /invocations`` on a model server;
- ``workers N``: ``POST /endpoints/NAME/invocations`` on the server started
  with ``--workers N`` (0: the server process serves everything itself).

Reports p50/p99 and requests per second per target and concurrency, and
each server's throughput relative to ``workers 0``. On a machine with few
cores the load generator, the routers, the model server and the server
process share them: what more routers can add is bounded by the cores they
find free (docs/workers.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import OtherLoad, Result, Target, endpoint, machine, measure, routed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--requests", type=int, default=2_000, help="per target, per round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2_000)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        targets: list[Target] = []
        pids: list[int] = []
        for count in args.workers:
            extra = ("--workers", str(count)) if count else ()
            url, copy, pid = stack.enter_context(endpoint(extra))
            pids.append(pid)
            if not targets:
                targets.append(Target("direct", copy[0], copy[1], "/invocations"))
            targets.append(routed(f"workers {count}", url, True))
        other = OtherLoad([os.getpid(), *pids])

        async def run() -> list[Result]:
            results: list[Result] = []
            for concurrency in args.concurrency:
                results += await measure(
                    targets, concurrency, args.requests, args.warmup, args.rounds
                )
            return results

        results = uvloop.run(run())
        share = other.share()
    baseline = f"workers {args.workers[0]}"
    by_key = {(r.target, r.concurrency): r for r in results}
    rows = []
    for r in results:
        base = by_key[(baseline, r.concurrency)]
        ratios = [a / b for a, b in zip(r.round_rps, base.round_rps, strict=True)]
        rows.append(
            {
                **r.summary(),
                f"rps_vs_{baseline.replace(' ', '_')}": round(statistics.median(ratios), 3),
            }
        )
    print(json.dumps({"machine": machine(), "other_load": share, "results": rows}, indent=2))
    print(f"\n| concurrency | target | p50 ms | p99 ms | req/s | req/s vs {baseline} |")
    print("|---:|---|---:|---:|---:|---:|")
    for row in rows:
        ratio = row[f"rps_vs_{baseline.replace(' ', '_')}"]
        print(
            f"| {row['concurrency']} | {row['target']} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['rps']:,} | {float(ratio):.0%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
