"""Benchmark: how long a new inference-component copy takes to start, cached vs not.

Run with ``.venv/bin/python bench/component_start.py``. It starts ``moorage
serve`` on a free port in a temporary data dir and builds one model artifact
(a ``model.tar.gz`` of ``--weights-mb`` MB of incompressible "weights", a
``code/inference.py`` that reads them, and a ``code/requirements.txt`` naming
a small wheel shipped beside it, so pip installs it without a network). Two
components of that model share one endpoint, one copy each:

- ``cached``: ``DataCacheConfig.EnableCaching`` true: a new copy reuses the
  model directory and the installed requirements every copy shares;
- ``cold``: ``EnableCaching`` false: a new copy extracts the archive and
  installs the requirements for itself.

Each round raises one component to two copies
(``UpdateInferenceComponentRuntimeConfig``) and measures the time from that
call to ``CurrentCopyCount`` reaching 2 in ``DescribeInferenceComponent``,
polled every 10 ms: the copy was requested, placed, prepared, started, and
answered ``/ping``. Then the copy is removed again and the other component
has its turn; which goes first alternates from round to round, and the
cold/cached ratio is the median of the rounds' ratios (with its range). The
first row is each component's creation (``Creating`` to ``InService``, its
first copy), where the cached one fills the cache.

The artifact is a local file (``file://``), so "downloading" costs nothing
here; from S3 a copy without caching also downloads the archive again.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import ROLE, Server, client, machine

ENDPOINT = "bench-copies"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
WHEEL = "tinydep-0.1-py3-none-any.whl"
INFERENCE_PY = b"""\
import os

import tinydep


def model_fn(model_dir):
    return {"weights": os.path.getsize(os.path.join(model_dir, "weights.bin")),
            "value": tinydep.VALUE}


def predict_fn(data, model):
    return model
"""
PATHS = ("cached", "cold")


def wheel() -> bytes:
    """A minimal valid wheel (``tinydep``), installable offline."""
    files = {
        "tinydep/__init__.py": b"VALUE = 42\n",
        "tinydep-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 0.1\n",
        "tinydep-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }

    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = [f"{name},sha256={digest(data)},{len(data)}" for name, data in files.items()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        record.append("tinydep-0.1.dist-info/RECORD,,")
        archive.writestr("tinydep-0.1.dist-info/RECORD", "\n".join(record) + "\n")
    return buffer.getvalue()


def write_model(path: Path, weights_mb: int) -> Path:
    files = {
        "code/inference.py": INFERENCE_PY,
        "code/requirements.txt": f"./{WHEEL}\n".encode(),
        f"code/{WHEEL}": wheel(),
        "weights.bin": os.urandom(weights_mb * 1024 * 1024),
    }
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sagemaker(url: str) -> Any:
    return client("sagemaker", url)


def copies(sm: Any, name: str) -> tuple[str, int]:
    described = sm.describe_inference_component(InferenceComponentName=name)
    return described["InferenceComponentStatus"], described["RuntimeConfig"]["CurrentCopyCount"]


def wait_for(sm: Any, name: str, count: int, timeout_s: float = 120.0) -> None:
    """Until ``name`` is InService with ``count`` ready copies (polled every 10 ms)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        status, current = copies(sm, name)
        if status == "Failed":
            raise RuntimeError(f"{name} failed to start a copy")
        if status == "InService" and current == count:
            return
        time.sleep(0.01)
    raise RuntimeError(f"{name} did not reach {count} copies")


def setup(sm: Any, artifact: Path) -> dict[str, float]:
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
                "InstanceType": "ml.m5.4xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.25, "MaxAttempts": 240}
    )
    first: dict[str, float] = {}
    for name in PATHS:
        start = time.perf_counter()
        sm.create_inference_component(
            InferenceComponentName=name,
            EndpointName=ENDPOINT,
            Specification={
                "ModelName": ENDPOINT,
                "ComputeResourceRequirements": {
                    "NumberOfCpuCoresRequired": 1,
                    "MinMemoryRequiredInMb": 1024,
                },
                "DataCacheConfig": {"EnableCaching": name == "cached"},
            },
            RuntimeConfig={"CopyCount": 1},
        )
        wait_for(sm, name, 1)
        first[name] = time.perf_counter() - start
    return first


def one_start(sm: Any, name: str) -> float:
    """Raise ``name`` to two copies; seconds until the new one is ready. Then remove it."""
    start = time.perf_counter()
    sm.update_inference_component_runtime_config(
        InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 2}
    )
    wait_for(sm, name, 2)
    seconds = time.perf_counter() - start
    sm.update_inference_component_runtime_config(
        InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 1}
    )
    wait_for(sm, name, 1)
    # Let the removed copy drain, stop and delete its files before the next start.
    time.sleep(1.0)
    return seconds


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def table(report: dict[str, Any]) -> str:
    rows = [
        "| copy start | cached (EnableCaching true) | cold (EnableCaching false) | cold / cached |",
        "|---|---:|---:|---:|",
    ]
    first = report["first_copy_s"]
    rows.append(
        f"| first copy (CreateInferenceComponent -> InService) | {first['cached']:.2f} s | "
        f"{first['cold']:.2f} s | |"
    )
    cached, cold = report["new_copy"]["cached"], report["new_copy"]["cold"]
    ratio = report["ratio"]
    rows.append(
        f"| new copy, median of {report['rounds']} rounds (min..max) | "
        f"{cached['median_s']:.2f} s ({cached['min_s']:.2f}..{cached['max_s']:.2f}) | "
        f"{cold['median_s']:.2f} s ({cold['min_s']:.2f}..{cold['max_s']:.2f}) | "
        f"{ratio['median']:.2f}x ({ratio['min']:.2f}..{ratio['max']:.2f}) |"
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--weights-mb", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as temp:
        root = Path(temp)
        artifact = write_model(root / "model.tar.gz", args.weights_mb)
        server = Server(root / "data")
        server.start()
        try:
            sm = sagemaker(server.url)
            first = setup(sm, artifact)
            times: dict[str, list[float]] = {name: [] for name in PATHS}
            ratios = []
            for number in range(args.rounds):
                order = PATHS if number % 2 == 0 else PATHS[::-1]
                took = {name: one_start(sm, name) for name in order}
                for name, seconds in took.items():
                    times[name].append(seconds)
                ratios.append(took["cold"] / took["cached"])
        finally:
            server.stop()
    report = {
        "machine": machine(),
        "weights_mb": args.weights_mb,
        "rounds": args.rounds,
        "first_copy_s": {k: round(v, 3) for k, v in first.items()},
        "new_copy": {name: summary(values) for name, values in times.items()},
        "samples_s": {name: [round(v, 3) for v in values] for name, values in times.items()},
        "ratio": {
            "median": round(statistics.median(ratios), 2),
            "min": round(min(ratios), 2),
            "max": round(max(ratios), 2),
        },
    }
    print(json.dumps(report, indent=2))
    print()
    print(f"Machine: {report['machine']}; {args.weights_mb} MB of weights.")
    print()
    print(table(report))


if __name__ == "__main__":
    main()
