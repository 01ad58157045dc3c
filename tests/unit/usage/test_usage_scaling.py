"""Scaling raw process readings to SageMaker's utilization metrics (pure)."""

from __future__ import annotations

import pytest

from moorage.fleet.base import CopyPlacement
from moorage.fleet.processes import CopyProcess
from moorage.monitoring.usage_metrics import CopyUsage, InstanceUsage
from moorage.usage.scaling import (
    MIB,
    CopyReading,
    DeviceSample,
    DeviceUse,
    copy_usages,
    cpu_percent,
    devices_used,
    instance_usages,
    percent_of,
)

M5_XLARGE = CopyPlacement("i-1", vcpus=4, memory_mib=16384)
G5_12XLARGE = CopyPlacement("i-g", vcpus=48, memory_mib=196608, accelerators=4)


def process(
    copy_id: str = "c1",
    *,
    placement: CopyPlacement = M5_XLARGE,
    component: str | None = None,
    variant: str = "AllTraffic",
    pid: int = 100,
) -> CopyProcess:
    return CopyProcess(
        copy_id=copy_id,
        endpoint="shop",
        variant=variant,
        component=component,
        pid=pid,
        disk_path="/",
        placement=placement,
        inflight=0,
        started_at=0.0,
        ready_at=1.0,
    )


def reading(
    proc: CopyProcess,
    cpu: float | None = 50.0,
    rss: int | None = 1024 * MIB,
    disk: float | None = 40.0,
    devices: tuple[DeviceUse, ...] | None = None,
) -> CopyReading:
    return CopyReading(proc, cpu_percent=cpu, rss_bytes=rss, disk_percent=disk, devices=devices)


def test_cpu_percent_is_100_per_busy_core() -> None:
    assert cpu_percent(2.0, 1.0) == 200.0
    assert cpu_percent(0.5, 2.0) == 25.0
    # Time lost with a process that left the tree never goes below zero.
    assert cpu_percent(-1.0, 1.0) == 0.0
    assert cpu_percent(1.0, 0.0) is None


def test_percent_of_is_bounded() -> None:
    assert percent_of(512, 1024) == 50.0
    assert percent_of(4096, 1024) == 100.0
    assert percent_of(1, None) is None
    assert percent_of(1, 0) is None


def test_cpu_utilization_sums_the_copies_of_an_instance_within_its_vcpus() -> None:
    shared = CopyPlacement("i-1", vcpus=4, memory_mib=16384)
    [usage] = instance_usages(
        [
            reading(process("a", placement=shared), cpu=150.0, rss=2048 * MIB, disk=30.0),
            reading(process("b", placement=shared), cpu=120.0, rss=2048 * MIB, disk=35.0),
        ]
    )
    # 270 % of a 4-vCPU instance (range 0-400 %), memory 4 GiB of 16 GiB.
    assert usage == InstanceUsage("shop", "AllTraffic", cpu=270.0, memory=25.0, disk=35.0)
    [busy] = instance_usages([reading(process(placement=shared), cpu=900.0)])
    assert busy.cpu == 400.0


def test_each_instance_is_a_value_of_its_own() -> None:
    usages = instance_usages(
        [
            reading(process("a", placement=CopyPlacement("i-1", vcpus=2, memory_mib=8192))),
            reading(process("b", placement=CopyPlacement("i-2", vcpus=2, memory_mib=8192))),
            reading(process("c", placement=CopyPlacement("i-3", vcpus=2), variant="Other")),
        ]
    )
    assert [(u.variant, u.cpu, u.memory) for u in usages] == [
        ("AllTraffic", 50.0, 12.5),
        ("AllTraffic", 50.0, 12.5),
        # Without a memory size (a serverless variant without one) no MemoryUtilization.
        ("Other", 50.0, None),
    ]


def test_unreadable_values_are_left_out() -> None:
    [usage] = instance_usages([reading(process(), cpu=None, rss=None, disk=None)])
    assert (usage.cpu, usage.memory, usage.disk, usage.gpu) == (None, None, None, None)


def test_gpu_utilization_is_100_per_gpu_used_and_memory_a_share_of_each() -> None:
    a = process("a", placement=G5_12XLARGE, pid=1)
    b = process("b", placement=G5_12XLARGE, pid=2)
    gib = 1024 * MIB
    [usage] = instance_usages(
        [
            # Two copies on GPU 0 share its utilization; their memory adds up.
            reading(a, devices=(DeviceUse(0, 60.0, 4 * gib, 24 * gib),)),
            reading(
                b,
                devices=(
                    DeviceUse(0, 60.0, 2 * gib, 24 * gib),
                    DeviceUse(1, 30.0, 12 * gib, 24 * gib),
                ),
            ),
        ]
    )
    assert usage.gpu == 90.0
    assert usage.gpu_memory == pytest.approx(25.0 + 50.0)


def test_no_gpu_metrics_without_nvml_or_on_an_instance_without_gpus() -> None:
    [no_nvml] = instance_usages([reading(process(placement=G5_12XLARGE), devices=None)])
    assert (no_nvml.gpu, no_nvml.gpu_memory) == (None, None)
    [cpu_only] = instance_usages([reading(process(), devices=())])
    assert (cpu_only.gpu, cpu_only.gpu_memory) == (None, None)
    # A GPU instance whose copies hold no GPU is idle, not unknown.
    [idle] = instance_usages([reading(process(placement=G5_12XLARGE), devices=())])
    assert (idle.gpu, idle.gpu_memory) == (0.0, 0.0)


def test_devices_used_are_those_holding_memory_for_the_copys_processes() -> None:
    samples = [
        DeviceSample(0, 80.0, 1000, {10: 100, 99: 500}),
        DeviceSample(1, 20.0, 1000, {99: 300}),
        DeviceSample(2, 5.0, 1000, {11: 50, 10: 25}),
    ]
    assert devices_used(samples, [10, 11]) == (
        DeviceUse(0, 80.0, 100, 1000),
        DeviceUse(2, 5.0, 75, 1000),
    )
    assert devices_used(samples, [12]) == ()


def test_normalized_metrics_are_over_the_reservation() -> None:
    reserved = CopyPlacement(
        "i-1", vcpus=4, memory_mib=16384, reserved_cpus=2.0, reserved_memory_mib=1024
    )
    proc = process(placement=reserved, component="llm")
    [usage] = copy_usages([reading(proc, cpu=100.0, rss=512 * MIB)])
    # 100 % of one core over 2 reserved cores; 512 MiB of 1024 MiB reserved.
    assert usage == CopyUsage("llm", cpu=50.0, memory=50.0)
    [over] = copy_usages([reading(proc, cpu=300.0, rss=4096 * MIB)])
    assert (over.cpu, over.memory) == (100.0, 100.0)


def test_normalized_metrics_are_over_the_instance_without_a_reservation() -> None:
    proc = process(placement=M5_XLARGE, component="llm")
    [usage] = copy_usages([reading(proc, cpu=200.0, rss=4096 * MIB)])
    assert (usage.cpu, usage.memory) == (50.0, 25.0)


def test_normalized_gpu_metrics_are_over_the_reserved_devices() -> None:
    placement = CopyPlacement(
        "i-g", vcpus=48, memory_mib=196608, accelerators=4, reserved_accelerators=2
    )
    proc = process(placement=placement, component="llm")
    devices = (DeviceUse(0, 80.0, 500, 1000), DeviceUse(1, 40.0, 250, 1000))
    [usage] = copy_usages([reading(proc, devices=devices)])
    assert usage.gpu == 60.0
    assert usage.gpu_memory == pytest.approx(37.5)


def test_only_component_copies_have_normalized_metrics() -> None:
    assert copy_usages([reading(process())]) == []
