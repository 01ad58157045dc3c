"""SageMaker's metrics of real endpoints under real traffic, read back through CloudWatch.

A server of its own samples its copies every second (``--metrics-sample-interval 1``):
utilization in ``/aws/sagemaker/Endpoints`` and ``/aws/sagemaker/InferenceComponents``,
requests in flight and model setup times in ``AWS/SageMaker``, beside the per-invocation
metrics (``InvocationModelErrors``, ``InvocationsPerInstance``, and every one of them
with ``EndpointConfigName`` too, before any update).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.components import (
    component_endpoint,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import create_model, delete, deploy
from support.names import unique
from support.server import MoorageServer, running

ENDPOINTS = "/aws/sagemaker/Endpoints"
COMPONENTS = "/aws/sagemaker/InferenceComponents"
SAGEMAKER = "AWS/SageMaker"
STATISTICS = ["SampleCount", "Sum", "Minimum", "Maximum"]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    data = tmp_path_factory.mktemp("sampled-data")
    with running(data, extra_args=("--metrics-sample-interval", "1")) as srv:
        yield srv


def dims(**values: str) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in values.items()]


def statistics(
    cw: Any, namespace: str, metric: str, dimensions: list[dict[str, str]], period: int = 60
) -> dict[str, Any]:
    """GetMetricStatistics over the last ten minutes, its datapoints merged."""
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=period,
        Statistics=STATISTICS,
    )["Datapoints"]
    if not points:
        return {"SampleCount": 0.0, "datapoints": 0}
    return {
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Sum": sum(p["Sum"] for p in points),
        "Minimum": min(p["Minimum"] for p in points),
        "Maximum": max(p["Maximum"] for p in points),
        "Unit": {p["Unit"] for p in points},
        "datapoints": len(points),
    }


def metric_data(
    cw: Any, namespace: str, metric: str, dimensions: list[dict[str, str]], stat: str
) -> list[float]:
    """GetMetricData's values of one MetricStat over the last ten minutes."""
    now = dt.datetime.now(dt.UTC)
    [result] = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": dimensions,
                    },
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
    )["MetricDataResults"]
    values: list[float] = result["Values"]
    return values


def eventually(
    read: Callable[[], dict[str, Any]], ok: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """``read()`` once ``ok`` holds for it (samples come every second)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if ok(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def invoke(runtime: Any, endpoint: str, body: dict[str, Any], **extra: Any) -> None:
    runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=json.dumps(body), **extra
    )


def test_a_variants_invocation_utilization_and_concurrency_metrics(
    sampled: MoorageServer, tmp_path: Path
) -> None:
    sm, cw = sampled.sagemaker, sampled.client("cloudwatch")
    runtime = sampled.client("sagemaker-runtime")
    name = unique("sampled")
    # Two instances of ml.m5.large (2 vCPUs, 8 GiB each).
    deploy(sm, name, toolbox_archive(tmp_path / "model.tar.gz").as_uri(), count=2)
    # One slow request, in flight across several samples.
    slow = threading.Thread(target=invoke, args=(runtime, name, {"op": "sleep", "seconds": 4}))
    slow.start()
    for _ in range(6):
        invoke(runtime, name, {"op": "echo"})
    with pytest.raises(ClientError):
        invoke(runtime, name, {"op": "fail"})
    slow.join()
    variant = dims(EndpointName=name, VariantName="AllTraffic")
    fleet = dims(EndpointName=name, VariantName="AllTraffic", EndpointConfigName=name)

    # Invocation metrics carry the config's name at all times, not only during an update.
    assert statistics(cw, SAGEMAKER, "Invocations", fleet)["Sum"] == 8.0
    assert statistics(cw, SAGEMAKER, "Invocations", variant)["Sum"] == 8.0
    errors = statistics(cw, SAGEMAKER, "InvocationModelErrors", variant)
    assert (errors["Sum"], errors["SampleCount"]) == (1.0, 8.0)
    assert statistics(cw, SAGEMAKER, "InvocationModelErrors", fleet)["Sum"] == 1.0
    # 1/2 per invocation with two instances: the invocations each instance received.
    assert statistics(cw, SAGEMAKER, "InvocationsPerInstance", variant)["Sum"] == 4.0
    assert statistics(cw, SAGEMAKER, "InvocationsPerInstance", fleet)["Sum"] == 4.0

    # Requests in flight, sampled per model server: the slow request was seen.
    for metric in ("ConcurrentRequestsPerModel", "ConcurrentRequestsPerModelHighResolution"):
        seen = eventually(
            functools.partial(statistics, cw, SAGEMAKER, metric, variant),
            lambda s: s.get("Maximum", 0) >= 1,
        )
        assert seen["Maximum"] >= 1 and seen["Minimum"] == 0
        assert seen["Unit"] == {"None"}
    # High resolution: 10-second periods have datapoints of their own.
    fine = statistics(cw, SAGEMAKER, "ConcurrentRequestsPerModelHighResolution", variant, 10)
    assert fine["datapoints"] >= 1

    # Each copy's start, download and load included, once.
    setup = statistics(cw, SAGEMAKER, "ModelSetupTime", variant)
    assert setup["SampleCount"] == 2.0
    assert 0 < setup["Minimum"] <= setup["Maximum"] < 480 * 1e6
    assert setup["Unit"] == {"Microseconds"}

    # Per instance: two values per sample, CPU within 2 vCPUs (0-200 %).
    cpu = eventually(
        lambda: statistics(cw, ENDPOINTS, "CPUUtilization", variant),
        lambda s: s["SampleCount"] >= 4,
    )
    # Each sample after both copies were ready has one value per instance (a
    # sample taken while the second copy was still starting has one).
    now = dt.datetime.now(dt.UTC)
    per_sample = cw.get_metric_statistics(
        Namespace=ENDPOINTS,
        MetricName="CPUUtilization",
        Dimensions=variant,
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=1,
        Statistics=["SampleCount"],
    )["Datapoints"]
    counts = [p["SampleCount"] for p in sorted(per_sample, key=lambda p: p["Timestamp"])]
    assert cpu["SampleCount"] >= 4 and set(counts[1:]) == {2.0}, counts
    assert 0 <= cpu["Minimum"] <= cpu["Maximum"] <= 200
    assert cpu["Unit"] == {"Percent"}
    memory = statistics(cw, ENDPOINTS, "MemoryUtilization", variant)
    assert 0 < memory["Minimum"] <= memory["Maximum"] < 100
    disk = metric_data(cw, ENDPOINTS, "DiskUtilization", variant, "Maximum")
    assert disk and all(0 < value <= 100 for value in disk)
    if importlib.util.find_spec("pynvml") is None:
        # No NVML here: no GPU metrics, rather than made-up zeros.
        listed = cw.list_metrics(Namespace=ENDPOINTS, Dimensions=[variant[0]])["Metrics"]
        assert {m["MetricName"] for m in listed} == {
            "CPUUtilization",
            "MemoryUtilization",
            "DiskUtilization",
        }
    delete(sm, name)


def test_an_inference_components_metrics(sampled: MoorageServer, tmp_path: Path) -> None:
    sm, cw = sampled.sagemaker, sampled.client("cloudwatch")
    runtime = sampled.client("sagemaker-runtime")
    endpoint, model, component = unique("ic-sampled"), unique("ic-model"), unique("ic-comp")
    component_endpoint(sm, endpoint, instance_type="ml.m5.xlarge")  # 4 vCPUs, 16 GiB
    create_model(sm, model, toolbox_archive(tmp_path / "model.tar.gz").as_uri())
    # Two copies, each reserving 1 core and 1 GiB, on the one instance.
    create_component(sm, component, endpoint, model=model, copies=2, cpus=1, memory=1024)
    wait_component(sm, component)
    target = {"InferenceComponentName": component}
    slow = threading.Thread(
        target=invoke, args=(runtime, endpoint, {"op": "sleep", "seconds": 4}), kwargs=target
    )
    slow.start()
    for _ in range(4):
        invoke(runtime, endpoint, {"op": "echo"}, **target)
    with pytest.raises(ClientError):
        invoke(runtime, endpoint, {"op": "fail"}, **target)
    slow.join()
    by_component = dims(InferenceComponentName=component)
    variant = dims(EndpointName=endpoint, VariantName="AllTraffic")
    fleet = dims(EndpointName=endpoint, VariantName="AllTraffic", EndpointConfigName=endpoint)

    assert statistics(cw, SAGEMAKER, "Invocations", by_component)["Sum"] == 6.0
    assert statistics(cw, SAGEMAKER, "Invocations", fleet)["Sum"] == 6.0
    assert statistics(cw, SAGEMAKER, "InvocationModelErrors", by_component)["Sum"] == 1.0
    # Both copies run on one instance: 1 per invocation.
    assert statistics(cw, SAGEMAKER, "InvocationsPerInstance", variant)["Sum"] == 6.0

    per_copy = eventually(
        lambda: statistics(cw, SAGEMAKER, "ConcurrentRequestsPerCopy", by_component),
        lambda s: s.get("Maximum", 0) >= 1,
    )
    assert per_copy["Maximum"] >= 1 and per_copy["Minimum"] == 0
    setup = statistics(cw, SAGEMAKER, "ModelSetupTime", by_component)
    assert setup["SampleCount"] == 2.0 and setup["Minimum"] > 0

    # Normalized per copy, 0-100 over what each copy reserved.
    cpu = eventually(
        lambda: statistics(cw, COMPONENTS, "CPUUtilizationNormalized", by_component),
        lambda s: s["SampleCount"] >= 2,
    )
    assert 0 <= cpu["Minimum"] <= cpu["Maximum"] <= 100
    memory = metric_data(cw, COMPONENTS, "MemoryUtilizationNormalized", by_component, "Average")
    assert memory and all(0 < value <= 100 for value in memory)
    # The instance's own metrics: one value per sample for the one instance.
    instance_cpu = statistics(cw, ENDPOINTS, "CPUUtilization", variant)
    assert instance_cpu["SampleCount"] >= 1 and instance_cpu["Maximum"] <= 400
    if importlib.util.find_spec("pynvml") is None:
        listed = cw.list_metrics(Namespace=COMPONENTS, Dimensions=by_component)["Metrics"]
        assert {m["MetricName"] for m in listed} == {
            "CPUUtilizationNormalized",
            "MemoryUtilizationNormalized",
        }
    delete_component(sm, component)
    delete(sm, endpoint)


@pytest.mark.parametrize("value", ["0.5", "3601", "nan"])
def test_an_unusable_sample_interval_is_refused(tmp_path: Path, value: str) -> None:
    command = [str(BIN / "moorage"), "serve", "--port", "0", "--data-dir", str(tmp_path)]
    out = subprocess.run(
        [*command, "--metrics-sample-interval", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "moorage serve: --metrics-sample-interval must be from 1 to 3600 seconds"
    ]
