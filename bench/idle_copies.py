"""Benchmark: what idle copies cost, and how fast a dead copy or a dead server is noticed.

Run with ``.venv/bin/python bench/idle_copies.py`` (300 copies; ``--copies 50``
for a quick run). It starts ``moorage serve`` in a temporary data dir, an
endpoint on one ``ml.m5.24xlarge`` instance and an inference component of
``--copies`` copies of a no-op model (a quarter of a vCPU and 512 MB each),
waits until every copy is ready and the start-up work has settled, then,
with no request at all:

1. **Idle cost**: the CPU time (user + system) used by the server and by all
   of its copies over ``--window`` seconds, as cores (CPU seconds per second),
   in total and per copy. This includes the server's health checks of every
   copy (``GET /ping`` every 5 s).
2. **A dead copy noticed**: one copy is killed with SIGKILL; the time until
   ``DescribeInferenceComponent`` no longer counts it (``CurrentCopyCount``
   drops), polled every 10 ms.
3. **A dead server noticed**: the server is killed with SIGKILL; the time
   until the last of its copies has exited.

Prints a JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import IMAGE, ROLE, Server, client, machine, write_model

ENDPOINT = "bench-idle"


def deploy(sm: Any, artifact: Path, copies: int) -> None:
    sm.create_model(
        ModelName=ENDPOINT,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact.as_uri()},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=ENDPOINT,
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "InstanceType": "ml.m5.24xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.5, "MaxAttempts": 480}
    )
    sm.create_inference_component(
        InferenceComponentName=ENDPOINT,
        EndpointName=ENDPOINT,
        Specification={
            "ModelName": ENDPOINT,
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 0.25,
                "MinMemoryRequiredInMb": 512,
            },
        },
        RuntimeConfig={"CopyCount": copies},
    )


def current_copies(sm: Any) -> tuple[str, int]:
    described = sm.describe_inference_component(InferenceComponentName=ENDPOINT)
    return described["InferenceComponentStatus"], described["RuntimeConfig"]["CurrentCopyCount"]


def wait_for_copies(sm: Any, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, current = current_copies(sm)
        if status == "Failed":
            described = sm.describe_inference_component(InferenceComponentName=ENDPOINT)
            raise RuntimeError(f"the inference component failed: {described.get('FailureReason')}")
        if status == "InService" and current == count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{count} copies did not become ready within {timeout_s:g} s")


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def idle_cost(server_pid: int, window_s: float) -> dict[str, float]:
    server = psutil.Process(server_pid)
    copies = server.children(recursive=True)
    before_server, before_copies = cpu_seconds([server]), cpu_seconds(copies)
    start = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - start
    used_server = cpu_seconds([server]) - before_server
    used_copies = cpu_seconds(copies) - before_copies
    return {
        "processes": len(copies),
        "server_cores": round(used_server / elapsed, 4),
        "copies_cores": round(used_copies / elapsed, 4),
        "total_cores": round((used_server + used_copies) / elapsed, 4),
        "per_copy_millicores": round(1000 * (used_server + used_copies) / elapsed / len(copies), 3),
    }


def dead_copy_noticed(sm: Any, server_pid: int, count: int) -> float:
    victim = psutil.Process(server_pid).children(recursive=True)[-1]
    start = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    while current_copies(sm)[1] >= count:
        if time.monotonic() - start > 60:
            raise RuntimeError("the dead copy was not noticed within 60 s")
        time.sleep(0.01)
    return time.monotonic() - start


def dead_server_noticed(server_pid: int) -> float:
    copies = psutil.Process(server_pid).children(recursive=True)
    start = time.monotonic()
    os.kill(server_pid, signal.SIGKILL)
    while any(_running(copy) for copy in copies):
        if time.monotonic() - start > 60:
            raise RuntimeError("copies outlived their server by 60 s")
        time.sleep(0.005)
    return time.monotonic() - start


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=300)
    parser.add_argument("--window", type=float, default=30.0, help="seconds of idle measured")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds waited first")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="moorage-bench-idle-") as folder:
        data_dir = Path(folder)
        server = Server(data_dir / "data")
        server.start()
        try:
            assert server.proc is not None
            sm = client("sagemaker", server.url)
            started = time.monotonic()
            deploy(sm, write_model(data_dir / "model.tar.gz"), args.copies)
            wait_for_copies(sm, args.copies, timeout_s=60 + 3 * args.copies)
            ready_s = time.monotonic() - started
            time.sleep(args.settle)
            cost = idle_cost(server.proc.pid, args.window)
            copy_s = dead_copy_noticed(sm, server.proc.pid, args.copies)
            wait_for_copies(sm, args.copies, timeout_s=120)
            server_s = dead_server_noticed(server.proc.pid)
        finally:
            server.stop()
    report = {
        "machine": machine(),
        "copies": args.copies,
        "all_ready_s": round(ready_s, 1),
        "idle": cost,
        "dead_copy_noticed_s": round(copy_s, 3),
        "dead_server_noticed_s": round(server_s, 3),
    }
    print(json.dumps(report, indent=2))
    print(
        "\n| copies | idle cores, total | server | copies | per copy (millicores) "
        "| dead copy noticed | dead server noticed |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.copies} | {cost['total_cores']:.3f} | {cost['server_cores']:.3f} "
        f"| {cost['copies_cores']:.3f} | {cost['per_copy_millicores']:.2f} "
        f"| {copy_s:.2f} s | {server_s:.2f} s |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
