"""From raw readings of the copies' processes to SageMaker's utilization scales (pure).

The probe (:mod:`moorage.usage.probe`) reads, per copy, the CPU its process
tree used, its resident memory, the disk its files live on and, with NVML,
the GPUs its processes hold (:class:`CopyReading`). This module scales them
as SageMaker does (docs/metrics-and-alarms.md, "Utilization"):

- per instance (the copies placed on it summed), into
  :class:`~moorage.monitoring.usage_metrics.InstanceUsage`: ``CPUUtilization``
  is the sum over cores (100 per vCPU, at most 100 times the instance type's
  vCPUs), ``MemoryUtilization`` a percentage of the instance type's memory,
  ``DiskUtilization`` the usage of the copies' disk, ``GPUUtilization`` the
  sum over the GPUs used (100 per GPU), ``GPUMemoryUtilization`` the sum over
  GPUs of the share of each one's memory the copies hold;
- per copy of an inference component, into
  :class:`~moorage.monitoring.usage_metrics.CopyUsage`, each 0 to 100: over
  what the copy reserved (``NumberOfCpuCoresRequired``,
  ``MinMemoryRequiredInMb``, ``NumberOfAcceleratorDevicesRequired``), or over
  the instance where it reserved nothing.

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from moorage.fleet.processes import CopyProcess
from moorage.monitoring.usage_metrics import CopyUsage, InstanceUsage

MIB = 1024 * 1024


@dataclass(frozen=True)
class DeviceSample:
    """One GPU as NVML reports it: its utilization, memory, and memory per process."""

    index: int
    utilization: float  # percent of the sample period a kernel ran
    memory_total: int  # bytes
    memory_by_pid: Mapping[int, int]  # bytes held by each process using it


@dataclass(frozen=True)
class DeviceUse:
    """A GPU some of a copy's processes hold."""

    index: int
    utilization: float
    memory_used: int  # bytes held by the copy's processes
    memory_total: int


@dataclass(frozen=True)
class CopyReading:
    """What one copy's process tree used, as read (``None``: could not be read)."""

    process: CopyProcess
    cpu_percent: float | None  # 100 per core kept busy
    rss_bytes: int | None
    disk_percent: float | None
    # The GPUs it holds; None when there is no NVML to ask.
    devices: tuple[DeviceUse, ...] | None = None


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float | None:
    """CPU time used over a wall-clock interval, as a percentage (100 per core)."""
    if wall_seconds <= 0:
        return None
    return max(0.0, cpu_seconds / wall_seconds * 100.0)


def percent_of(used: float, capacity: float | None) -> float | None:
    """``used`` as a percentage of ``capacity``, within 0 to 100 (None without a capacity)."""
    if capacity is None or capacity <= 0:
        return None
    return min(100.0, max(0.0, used / capacity * 100.0))


def devices_used(samples: Iterable[DeviceSample], pids: Iterable[int]) -> tuple[DeviceUse, ...]:
    """The GPUs on which any of ``pids`` holds memory, with the memory they hold."""
    wanted = set(pids)
    found = []
    for sample in samples:
        held = [used for pid, used in sample.memory_by_pid.items() if pid in wanted]
        if held:
            found.append(
                DeviceUse(sample.index, sample.utilization, sum(held), sample.memory_total)
            )
    return tuple(found)


def instance_usages(readings: Sequence[CopyReading]) -> list[InstanceUsage]:
    """One :class:`InstanceUsage` per instance the readings' copies run on."""
    instances: dict[tuple[str, str, str], list[CopyReading]] = {}
    for reading in readings:
        p = reading.process
        instances.setdefault((p.endpoint, p.variant, p.placement.instance_id), []).append(reading)
    return [
        _instance(endpoint, variant, found) for (endpoint, variant, _), found in instances.items()
    ]


def _instance(endpoint: str, variant: str, readings: list[CopyReading]) -> InstanceUsage:
    placement = readings[0].process.placement
    cpu = _sum(r.cpu_percent for r in readings)
    if cpu is not None and placement.vcpus:
        cpu = min(cpu, 100.0 * placement.vcpus)
    rss = _sum(r.rss_bytes for r in readings)
    memory_mib = placement.memory_mib
    memory = percent_of(rss, memory_mib * MIB if memory_mib else None) if rss is not None else None
    disks = [r.disk_percent for r in readings if r.disk_percent is not None]
    gpu, gpu_memory = _instance_gpus(readings, placement.accelerators)
    return InstanceUsage(
        endpoint,
        variant,
        cpu=cpu,
        memory=memory,
        disk=max(disks) if disks else None,
        gpu=gpu,
        gpu_memory=gpu_memory,
    )


def _instance_gpus(
    readings: list[CopyReading], accelerators: int
) -> tuple[float | None, float | None]:
    if all(r.devices is None for r in readings):
        return None, None
    # Copies sharing a GPU share its utilization; their memory adds up.
    utilization: dict[int, float] = {}
    held: dict[int, tuple[int, int]] = {}
    for reading in readings:
        for device in reading.devices or ():
            utilization[device.index] = device.utilization
            used, _ = held.get(device.index, (0, device.memory_total))
            held[device.index] = (used + device.memory_used, device.memory_total)
    if not held and not accelerators:
        return None, None  # a CPU instance whose copies hold no GPU
    gpu = sum(utilization.values())
    memory = sum(percent_of(used, total) or 0.0 for used, total in held.values())
    if accelerators:
        gpu = min(gpu, 100.0 * accelerators)
        memory = min(memory, 100.0 * accelerators)
    return gpu, memory


def copy_usages(readings: Sequence[CopyReading]) -> list[CopyUsage]:
    """One :class:`CopyUsage` per reading of an inference component's copy."""
    return [_copy(r) for r in readings if r.process.component is not None]


def _copy(reading: CopyReading) -> CopyUsage:
    placement = reading.process.placement
    component = reading.process.component
    assert component is not None
    cores = placement.reserved_cpus or placement.vcpus
    cpu = None
    if reading.cpu_percent is not None and cores:
        cpu = percent_of(reading.cpu_percent, 100.0 * cores)
    memory_mib = placement.reserved_memory_mib or placement.memory_mib
    memory = None
    if reading.rss_bytes is not None and memory_mib:
        memory = percent_of(reading.rss_bytes, memory_mib * MIB)
    gpu = gpu_memory = None
    devices = reading.devices
    if devices is not None:
        count = placement.reserved_accelerators or len(devices) or placement.accelerators
        if count:
            gpu = min(100.0, sum(d.utilization for d in devices) / count)
            shares = sum(percent_of(d.memory_used, d.memory_total) or 0.0 for d in devices)
            gpu_memory = min(100.0, shares / count)
    return CopyUsage(component, cpu=cpu, memory=memory, gpu=gpu, gpu_memory=gpu_memory)


def _sum(values: Iterable[float | int | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return sum(known) if known else None
