"""Benchmark: asynchronous inference, drained by N instances, and its cost per request.

Run with ``.venv/bin/python bench/async_inference.py`` (``--quick`` for a
short run that only shows the script works). It starts ``moorage serve`` on a
free port in a temporary data dir and deploys the router benchmark's model
(``bench/router.py``; with ``--model-sleep S`` one that sleeps ``S`` seconds
per request) behind:

- one asynchronous endpoint per instance count of ``--instances`` (1, 2 and
  4 by default), ``MaxConcurrentInvocationsPerInstance`` ``--cap`` (4), its
  results written to a local folder (``file://``, moorage's local
  extension: no S3 in the measurement);
- one real-time endpoint of one instance, for the comparison.

**Drain rate.** For each asynchronous endpoint, after 20 requests of
warm-up, ``--requests`` requests (inline ``Body``) are sent by 8 client
threads as fast as the endpoint takes them; the clock runs from the first
send to the last result file. Reported: requests accepted per second (the
202s), requests drained per second, and the drain rate's ratio to one
instance's. With the no-op model the server's own work is the limit on 2
cores, so more instances only help with ``--model-sleep``.

**Overhead per request.** One request at a time, ``--samples`` times each
way on the same model: InvokeEndpoint on the real-time endpoint (until the
answer is read) and InvokeEndpointAsync on the one-instance asynchronous
endpoint (until its result file exists; the client checks every 0.5 ms).
The difference of the medians is what the queue costs a request: storing
it, the dispatcher's pass, the model call, writing the result, marking it
done. Requests go back to back, so it is latency, not load.

This machine has 2 cores shared by the load generator, the server and the
model servers: compare ratios, not absolute figures. Prints a table and a
JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from router import IMAGE, PAYLOAD, ROLE, Server, client, machine, write_model, write_sleeping_model

REALTIME = "bench-async-realtime"
SENDERS = 8
POLL_S = 0.0005


@dataclass(frozen=True)
class Drain:
    instances: int
    requests: int
    accepted_per_s: float
    drained_per_s: float
    ratio_to_one: float


@dataclass(frozen=True)
class Overhead:
    samples: int
    realtime_p50_ms: float
    async_p50_ms: float
    overhead_p50_ms: float


def _variant(model: str, count: int) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": count,
    }


def deploy(url: str, artifact: Path, results: Path, instances: Sequence[int], cap: int) -> None:
    sm = client("sagemaker", url)
    sm.create_model(
        ModelName="bench-async-model",
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": artifact.as_uri(),
            "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": str(max(8, cap))},
        },
        ExecutionRoleArn=ROLE,
    )
    names = [REALTIME]
    sm.create_endpoint_config(
        EndpointConfigName=REALTIME, ProductionVariants=[_variant("bench-async-model", 1)]
    )
    sm.create_endpoint(EndpointName=REALTIME, EndpointConfigName=REALTIME)
    for count in sorted({1, *instances}):
        name = f"bench-async-{count}"
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[_variant("bench-async-model", count)],
            AsyncInferenceConfig={
                "OutputConfig": {"S3OutputPath": (results / name).as_uri()},
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": cap},
            },
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        names.append(name)
    for name in names:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 480}
        )


def _path(location: str) -> Path:
    return Path(location.removeprefix("file://"))


def _wait_files(paths: Sequence[Path], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for path in paths:
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no result at {path} after {timeout_s:g} s")
            time.sleep(POLL_S * 20)


def drain(url: str, instances: int, requests: int, one: float | None) -> Drain:
    runtime = client("sagemaker-runtime", url)
    name = f"bench-async-{instances}"

    def send(_: int) -> Path:
        reply = runtime.invoke_endpoint_async(
            EndpointName=name, Body=PAYLOAD, ContentType="application/json"
        )
        return _path(reply["OutputLocation"])

    with ThreadPoolExecutor(SENDERS) as pool:
        # Warm up: connections, the model's first calls, the dispatcher's caches.
        _wait_files(list(pool.map(send, range(min(20, requests)))), timeout_s=120)
        started = time.perf_counter()
        outputs = list(pool.map(send, range(requests)))
    accepted = time.perf_counter() - started
    _wait_files(outputs, timeout_s=600)
    drained = time.perf_counter() - started
    rate = requests / drained
    return Drain(instances, requests, requests / accepted, rate, rate / one if one else 1.0)


def overhead(url: str, samples: int) -> Overhead:
    runtime = client("sagemaker-runtime", url)
    realtime: list[float] = []
    queued: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        runtime.invoke_endpoint(
            EndpointName=REALTIME, Body=PAYLOAD, ContentType="application/json"
        )["Body"].read()
        realtime.append(time.perf_counter() - started)
        started = time.perf_counter()
        reply = runtime.invoke_endpoint_async(
            EndpointName="bench-async-1", Body=PAYLOAD, ContentType="application/json"
        )
        path = _path(reply["OutputLocation"])
        while not path.exists():
            time.sleep(POLL_S)
        queued.append(time.perf_counter() - started)
    rt, aq = statistics.median(realtime) * 1e3, statistics.median(queued) * 1e3
    return Overhead(samples, round(rt, 2), round(aq, 2), round(aq - rt, 2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=1_000, help="per endpoint")
    parser.add_argument("--samples", type=int, default=200, help="for the overhead")
    parser.add_argument("--cap", type=int, default=4, help="MaxConcurrentInvocationsPerInstance")
    parser.add_argument("--model-sleep", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--quick", action="store_true", help="a short run: 1 and 2 instances")
    args = parser.parse_args(argv)
    if args.quick:
        args.instances, args.requests, args.samples = [1, 2], 40, 15
    with tempfile.TemporaryDirectory(prefix="moorage-bench-async-") as tmp:
        work = Path(tmp)
        results = work / "results"
        results.mkdir()
        artifact = (
            write_sleeping_model(work / "model.tar.gz", args.model_sleep)
            if args.model_sleep
            else write_model(work / "model.tar.gz")
        )
        server = Server(work / "data", ("--file-root", str(work)))
        server.start()
        try:
            deploy(server.url, artifact, results, args.instances, args.cap)
            drains: list[Drain] = []
            one: float | None = None
            for count in sorted({1, *args.instances}):
                found = drain(server.url, count, args.requests, one)
                one = one or found.drained_per_s
                if count in args.instances:
                    drains.append(found)
            cost = overhead(server.url, args.samples)
        finally:
            server.stop()
    print(f"machine: {machine()}; cap {args.cap}; model sleep {args.model_sleep:g} s")
    print("| instances | requests | accepted/s | drained/s | vs 1 instance |")
    print("|---|---|---|---|---|")
    for d in drains:
        print(
            f"| {d.instances} | {d.requests} | {d.accepted_per_s:.0f} | "
            f"{d.drained_per_s:.0f} | {d.ratio_to_one:.2f}x |"
        )
    print(
        f"overhead per request ({cost.samples} sequential): InvokeEndpoint p50 "
        f"{cost.realtime_p50_ms} ms, InvokeEndpointAsync to result p50 {cost.async_p50_ms} ms, "
        f"queue overhead {cost.overhead_p50_ms} ms"
    )
    print(json.dumps({"drain": [asdict(d) for d in drains], "overhead": asdict(cost)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
