"""The usage sampler on real processes: psutil readings into a real metric store."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.clock import FakeClock
from moorage.fleet.base import CopyPlacement
from moorage.fleet.processes import CopyProcess
from moorage.monitoring import MetricKey, MetricStore
from moorage.monitoring.usage_metrics import UsageMetrics
from moorage.usage import ProcessProbe, UsageSampler

T0 = 1_800_000_000.0
# A model server stand-in: it starts a worker that keeps a core busy, and waits.
SERVER = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", "while True: pass"])
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def server() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Copies:
    """What the fleet would report: the copies and their processes."""

    def __init__(self, *processes: CopyProcess) -> None:
        self.list = list(processes)

    def processes(self) -> list[CopyProcess]:
        return list(self.list)


def copy_of(
    pid: int, tmp: Path, *, inflight: int = 3, component: str | None = "llm"
) -> CopyProcess:
    return CopyProcess(
        copy_id="shop-llm-1",
        endpoint="shop",
        variant="AllTraffic",
        component=component,
        pid=pid,
        disk_path=str(tmp),
        placement=CopyPlacement("i-1", vcpus=4, memory_mib=16384, reserved_cpus=1.0),
        inflight=inflight,
        started_at=T0 - 12.5,
        ready_at=T0 - 10.0,
    )


def values(store: MetricStore, namespace: str, name: str, dims: dict[str, str]) -> list[float]:
    key = MetricKey.of(namespace, name, dims)
    points = store.get_statistics(key, T0 - 60, T0 + 60, 60, ["SampleCount", "Sum", "Maximum"])
    return [p.values["Maximum"] for p in points] + [p.values["SampleCount"] for p in points]


def test_a_sample_records_every_metric_of_a_copy(
    server: subprocess.Popen[str], tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    store = MetricStore(clock)
    view = Copies(copy_of(server.pid, tmp_path))
    sampler = UsageSampler(view, UsageMetrics(store), clock, interval_s=1.0)

    async def twice() -> None:
        await sampler.sample()
        time.sleep(0.5)  # let the worker burn CPU between the two readings
        await sampler.sample()
        await sampler.stop()

    asyncio.run(twice())
    variant = {"EndpointName": "shop", "VariantName": "AllTraffic"}
    component = {"InferenceComponentName": "llm"}
    # Requests in flight, per sample: the counter's value, twice.
    for name, dims in (
        ("ConcurrentRequestsPerModel", variant),
        ("ConcurrentRequestsPerModelHighResolution", variant),
        ("ConcurrentRequestsPerCopy", component),
    ):
        assert values(store, "AWS/SageMaker", name, dims) == [3.0, 2.0]
    # Set-up time once per copy: 2.5 s from the start being asked for to ready.
    assert values(store, "AWS/SageMaker", "ModelSetupTime", variant) == [2_500_000.0, 1.0]
    assert values(store, "AWS/SageMaker", "ModelSetupTime", component) == [2_500_000.0, 1.0]

    cpu, samples = values(store, "/aws/sagemaker/Endpoints", "CPUUtilization", variant)
    # The worker (a child of the copy's process) keeps a core busy: counted, within 4 vCPUs.
    assert samples == 2.0 and 0.0 < cpu <= 400.0
    memory, _ = values(store, "/aws/sagemaker/Endpoints", "MemoryUtilization", variant)
    assert 0.0 < memory < 100.0
    disk, _ = values(store, "/aws/sagemaker/Endpoints", "DiskUtilization", variant)
    assert 0.0 < disk <= 100.0
    normalized, _ = values(
        store, "/aws/sagemaker/InferenceComponents", "CPUUtilizationNormalized", component
    )
    assert 0.0 < normalized <= 100.0
    memory_normalized, _ = values(
        store, "/aws/sagemaker/InferenceComponents", "MemoryUtilizationNormalized", component
    )
    # Over the instance's memory, as the copy reserved none.
    assert memory_normalized == pytest.approx(memory)
    if importlib.util.find_spec("pynvml") is None:
        names = {k.name for k in store.list_metrics()}
        assert not {n for n in names if n.startswith("GPU")}


def test_the_probe_reads_the_process_tree(server: subprocess.Popen[str], tmp_path: Path) -> None:
    probe = ProcessProbe(gpus=False)
    [reading] = probe.read([copy_of(server.pid, tmp_path)])
    assert reading.rss_bytes is not None and reading.rss_bytes > 0
    assert reading.devices is None
    # A copy whose process is gone is not read (and forgotten).
    server.kill()
    server.wait()
    copy = copy_of(server.pid, tmp_path)
    # Its worker is still running; the copy's own process is what counts.
    assert probe.read([copy]) == []


def test_a_failing_sample_does_not_stop_the_sampler(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    store = MetricStore(clock)

    class Broken:
        calls = 0

        def processes(self) -> list[CopyProcess]:
            Broken.calls += 1
            if Broken.calls == 1:
                raise RuntimeError("the fleet could not answer")
            return [copy_of(999_999_999, tmp_path, inflight=1, component=None)]

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    sampler = UsageSampler(Broken(), UsageMetrics(store), clock, interval_s=1.0, sleep=sleep)

    async def run() -> None:
        sampler.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if Broken.calls >= 3:
                break
        await sampler.stop()

    asyncio.run(run())
    assert Broken.calls >= 3
    dims = {"EndpointName": "shop", "VariantName": "AllTraffic"}
    assert values(store, "AWS/SageMaker", "ConcurrentRequestsPerModel", dims)[0] == 1.0
    # A process that does not exist has no utilization.
    assert not any(k.namespace == "/aws/sagemaker/Endpoints" for k in store.list_metrics())


def test_the_interval_must_be_positive() -> None:
    clock = FakeClock(T0)
    with pytest.raises(ValueError):
        UsageSampler(Copies(), UsageMetrics(MetricStore(clock)), clock, interval_s=0)
