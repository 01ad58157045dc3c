"""Benchmark: invocation latency with and without a control-plane poller beside it.

Run with ``.venv/bin/python bench/control_poller.py``. It starts
``moorage serve`` with the no-op endpoint of ``bench/router.py`` and 200 more
endpoint records' worth of listing (``--models`` models, listed by the
poller's ``ListModels``), then alternates rounds of routed ``InvokeEndpoint``
at concurrency 8 (signed, from the same load generator as the router
benchmark):

- **quiet**: nothing else talks to the server;
- **polled**: a separate process calls ``DescribeEndpoint``,
  ``ListEndpoints`` and ``ListModels`` (100 a page) in turn at ``--rate``
  calls a second in all (50 by default), as waiters and dashboards do. Each
  call is signed once and sent again and again over one kept-alive
  connection (the server verifies every one), so that the poller's own CPU,
  on the same two cores, stays small.

Reports p50/p99 of each mode over all rounds, and polled/quiet p99 (the
target: within 10 %). The poller's calls and their latency are reported too.
With ``--workers N`` the server runs N router processes (docs/workers.md):
invocations no longer share an event loop with the poller's calls.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import (
    ENDPOINT,
    IMAGE,
    KEYS,
    REGION,
    ROLE,
    Result,
    client,
    endpoint,
    machine,
    phase,
    routed,
)


def signed_calls(url: str, key: tuple[str, str]) -> list[tuple[dict[str, str], bytes]]:
    """DescribeEndpoint, ListEndpoints and ListModels (100 a page), each signed once.

    A signature stays valid for five minutes, as on AWS; the server verifies
    it in full on every call. Signing once keeps the poller's own CPU small,
    so that what is measured is the server's work, not the client's.
    """
    calls = (
        ("DescribeEndpoint", {"EndpointName": ENDPOINT}),
        ("ListEndpoints", {"MaxResults": 100}),
        ("ListModels", {"MaxResults": 100}),
    )
    signed = []
    for operation, params in calls:
        body = json.dumps(params).encode()
        request = AWSRequest(
            method="POST",
            url=url + "/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"SageMaker.{operation}",
            },
        )
        SigV4Auth(Credentials(*key), "sagemaker", REGION).add_auth(request)
        signed.append((dict(request.headers.items()), body))
    return signed


def poll(url: str, key: tuple[str, str], rate: float, stop: Any, report: Any) -> None:
    """The signed calls in turn over one kept-alive connection, ``rate`` calls a second."""
    calls = signed_calls(url, key)
    connection = http.client.HTTPConnection(urlsplit(url).netloc)
    latencies: list[float] = []
    period = 1.0 / rate
    next_at = time.perf_counter()
    n = 0
    while not stop.is_set():
        headers, body = calls[n % len(calls)]
        start = time.perf_counter()
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"a control-plane call answered {response.status}")
        latencies.append(time.perf_counter() - start)
        n += 1
        next_at += period
        time.sleep(max(0.0, next_at - time.perf_counter()))
    report.put(latencies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="poller calls per second")
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000, help="per round")
    parser.add_argument("--rounds", type=int, default=10, help="per mode")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="moorage serve --workers N: invocations served by N router processes, the "
        "poller's calls by the server process (docs/workers.md)",
    )
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    extra = ("--workers", str(args.workers)) if args.workers else ()
    with endpoint(extra) as (url, _copy, _pid):
        sm = client("sagemaker", url)
        for i in range(args.models):
            sm.create_model(
                ModelName=f"listed-{i:04}",
                PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "file:///nonexistent.tar.gz"},
                ExecutionRoleArn=ROLE,
            )
        target = routed("router", url, True)
        results = {mode: Result(mode, args.concurrency, [], []) for mode in ("quiet", "polled")}
        poller_latencies: list[float] = []

        async def rounds() -> None:
            await phase(target, args.concurrency, args.requests)  # warm-up
            for n in range(args.rounds * 2):
                mode = ("quiet", "polled")[(n + n // 2) % 2]
                if mode == "polled":
                    stop, report = context.Event(), context.Queue()
                    poller = context.Process(
                        target=poll, args=(url, KEYS[url], args.rate, stop, report)
                    )
                    poller.start()
                    time.sleep(1.0)  # the poller's client is up and calling
                results[mode].add(await phase(target, args.concurrency, args.requests))
                if mode == "polled":
                    stop.set()
                    poller_latencies.extend(report.get(timeout=30))
                    poller.join(30)

        uvloop.run(rounds())
    quiet, polled = results["quiet"], results["polled"]
    ratio = polled.percentile_ms(0.99) / quiet.percentile_ms(0.99)
    report = {
        "machine": machine(),
        "workers": args.workers,
        "quiet": quiet.summary(),
        "polled": polled.summary(),
        "polled_quiet_p99_ratio": round(ratio, 3),
        "poller": {
            "calls": len(poller_latencies),
            "p50_ms": round(1000 * statistics.median(poller_latencies), 2),
            "max_ms": round(1000 * max(poller_latencies), 2),
        },
    }
    print(json.dumps(report, indent=2))
    print("\n| mode | p50 ms | p99 ms | req/s |")
    print("|---|---:|---:|---:|")
    for result in (quiet, polled):
        s = result.summary()
        print(f"| {result.target} | {s['p50_ms']} | {s['p99_ms']} | {s['rps']:,} |")
    print(f"\npolled / quiet p99: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
