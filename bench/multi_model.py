"""Benchmark: a multi-model endpoint with 1,000 small models, 50 of them resident.

Run with ``.venv/bin/python bench/multi_model.py`` (``--quick``: 100 models,
10 resident, fewer rounds). It starts ``moorage serve`` on a free port in a
temporary data dir, writes ``--models`` model archives into a local folder
(each a ``code/inference.py`` whose ``model_fn`` reads ``--weights-kb`` of
incompressible weights into memory) and deploys two endpoints on one
``ml.m5.large`` instance each:

- ``single``: one of those models as a plain single-model endpoint;
- ``multi``: ``Mode`` ``MultiModel`` over the folder (``file://``), its memory
  budget (``MOORAGE_MULTI_MODEL_MEMORY_MB``) set to hold ``--resident``
  models.

Then, all through boto3's ``invoke_endpoint`` from one client (its overhead
is in every figure alike):

1. **cold loads**: every model invoked once, in order: each request fetches
   and unpacks the archive, loads it, and (once the budget is full) unloads
   the least recently used model first;
2. **evictions**: every model invoked once more, in the same order: each one
   was pushed out since, so each request unloads one model and loads its own
   from local disk (no download): loads per second is the eviction
   throughput;
3. **cache hits vs single model**: the models resident now are invoked round
   robin (every request a hit), alternating request by request with the
   single-model endpoint (which of the two goes first alternates too); the
   ratio of their median (and p99) latencies is what routing by
   ``TargetModel`` costs over a plain invocation;
4. **memory held**: the models page's count and memory of the resident
   models against the budget, and the resident memory (RSS) of the
   multi-model container's process next to the single-model one's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import KEYS, REGION, Server, client, machine, model_and_config

INFERENCE_PY = b"""\
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.bin"), "rb") as handle:
        return {"name": os.path.basename(model_dir), "weights": handle.read()}


def transform_fn(model, input_data, content_type, accept):
    return '{"ok": true}', "application/json"
"""
MIB = 1024 * 1024
BODY = b'{"x": 1}'


def write_model(path: Path, weights_kb: int) -> None:
    files = {"code/inference.py": INFERENCE_PY, "weights.bin": os.urandom(weights_kb * 1024)}
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def deploy(sm: Any, name: str, container: dict[str, Any]) -> None:
    model_and_config(sm, name, container)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 480}
    )


def timed(runtime: Any, endpoint: str, target: str | None = None) -> float:
    extra = {"TargetModel": target} if target is not None else {}
    start = time.perf_counter()
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=BODY, ContentType="application/json", **extra
    )
    answer["Body"].read()
    return time.perf_counter() - start


def stats_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(values),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def models_page(url: str, endpoint: str) -> dict[str, Any]:
    """``GET /moorage/models/{endpoint}``, signed with the server's key like any request."""
    key_id, secret = KEYS[url]
    request = AWSRequest(method="GET", url=f"{url}/moorage/models/{endpoint}")
    SigV4Auth(Credentials(key_id, secret), "sagemaker", REGION).add_auth(request)
    prepared = urllib.request.Request(request.url, headers=dict(request.headers.items()))
    with urllib.request.urlopen(prepared, timeout=30) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


def copies_rss(server_pid: int) -> dict[str, int]:
    """The RSS of each model server the server started, by its copy id."""
    found: dict[str, int] = {}
    for process in psutil.Process(server_pid).children(recursive=True):
        try:
            copy_id = process.environ().get("MOORAGE_COPY_ID")
            if copy_id:
                found[copy_id] = found.get(copy_id, 0) + int(process.memory_info().rss)
        except psutil.Error:
            continue
    return found


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    folder = root / "models"
    folder.mkdir()
    targets = [f"model-{i:04d}.tar.gz" for i in range(args.models)]
    for target in targets:
        write_model(folder / target, args.weights_kb)
    # Room for --resident models: their weights, plus what loading a script adds.
    budget_mb = max(1, round(args.resident * (args.weights_kb / 1024 + args.overhead_kb / 1024)))
    server = Server(root / "data")
    server.start()
    try:
        sm = client("sagemaker", server.url)
        runtime = client("sagemaker-runtime", server.url)
        deploy(sm, "single", {"ModelDataUrl": (folder / targets[0]).as_uri()})
        deploy(
            sm,
            "multi",
            {
                "Mode": "MultiModel",
                "ModelDataUrl": folder.as_uri() + "/",
                "Environment": {"MOORAGE_MULTI_MODEL_MEMORY_MB": str(budget_mb)},
            },
        )
        timed(runtime, "single")  # warm the connection pool and the single model
        started = time.perf_counter()
        cold = [timed(runtime, "multi", t) for t in targets]
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        evicting = [timed(runtime, "multi", t) for t in targets]
        evicting_s = time.perf_counter() - started
        page = models_page(server.url, "multi")
        (copy,) = page["copies"]
        resident = [m["target_model"] for m in copy["models"]]
        hits: list[float] = []
        plain: list[float] = []
        for number in range(args.rounds):
            for index, target in enumerate(resident):
                # Which endpoint goes first alternates, so neither always follows the other.
                if (number + index) % 2:
                    plain.append(timed(runtime, "single"))
                    hits.append(timed(runtime, "multi", target))
                else:
                    hits.append(timed(runtime, "multi", target))
                    plain.append(timed(runtime, "single"))
        page = models_page(server.url, "multi")
        (copy,) = page["copies"]
        loads_after = sum(m["loads"] for m in page["models"])
        assert server.proc is not None
        rss = copies_rss(server.proc.pid)
        multi_rss = rss.pop(copy["copy_id"], None)
        # The only other copy is the single-model endpoint's.
        single_rss = next(iter(rss.values()), None)
    finally:
        server.stop()
    hit_stats, plain_stats = stats_ms(hits), stats_ms(plain)
    return {
        "machine": machine(),
        "models": args.models,
        "weights_kb": args.weights_kb,
        "budget_mb": budget_mb,
        "cold_load": {**stats_ms(cold), "loads_per_s": round(len(cold) / cold_s, 1)},
        "eviction": {**stats_ms(evicting), "loads_per_s": round(len(evicting) / evicting_s, 1)},
        "cache_hit": hit_stats,
        "single_model": plain_stats,
        "hit_vs_single": {
            "median_ratio": round(hit_stats["median_ms"] / plain_stats["median_ms"], 2),
            "p99_ratio": round(hit_stats["p99_ms"] / plain_stats["p99_ms"], 2),
        },
        "memory": {
            "resident_models": len(copy["models"]),
            "held_mib": round(copy["memory_used_bytes"] / MIB, 1),
            "budget_mib": round(copy["memory_budget_bytes"] / MIB, 1),
            "multi_model_server_rss_mib": round(multi_rss / MIB, 1) if multi_rss else None,
            "single_model_server_rss_mib": round(single_rss / MIB, 1) if single_rss else None,
        },
        "loads_during_hits": loads_after - 2 * args.models,
    }


def table(report: dict[str, Any]) -> str:
    rows = ["| measure | median | p99 | max | throughput |", "|---|---:|---:|---:|---:|"]
    for key, label in (
        ("cold_load", "cold load (fetch + load, evicting once full)"),
        ("eviction", "evict + load from local disk"),
        ("cache_hit", "cache hit (multi-model)"),
        ("single_model", "single-model endpoint"),
    ):
        item = report[key]
        rate = f"{item['loads_per_s']} loads/s" if "loads_per_s" in item else ""
        rows.append(
            f"| {label} | {item['median_ms']} ms | {item['p99_ms']} ms | {item['max_ms']} ms "
            f"| {rate} |"
        )
    ratio = report["hit_vs_single"]
    memory = report["memory"]
    rows.append(
        f"| cache hit / single model | {ratio['median_ratio']}x | {ratio['p99_ratio']}x | | |"
    )
    return "\n".join(rows) + (
        f"\n\nResident: {memory['resident_models']} models holding {memory['held_mib']} MiB of "
        f"a {memory['budget_mib']} MiB budget; model server RSS "
        f"{memory['multi_model_server_rss_mib']} MiB (multi-model) vs "
        f"{memory['single_model_server_rss_mib']} MiB (single model)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--resident", type=int, default=50)
    parser.add_argument("--weights-kb", type=int, default=512)
    parser.add_argument(
        "--overhead-kb",
        type=int,
        default=64,
        help="memory a model's load adds beyond its weights, for sizing the budget",
    )
    parser.add_argument(
        "--rounds", type=int, default=20, help="cache-hit rounds over the residents"
    )
    parser.add_argument("--quick", action="store_true", help="100 models, 10 resident, 3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.models, args.resident, args.rounds = 100, 10, 3
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as temp:
        report = run(args, Path(temp))
    print(json.dumps(report, indent=2))
    print()
    print(f"Machine: {report['machine']}; {args.models} models of {args.weights_kb} KiB.")
    print()
    print(table(report))


if __name__ == "__main__":
    main()
