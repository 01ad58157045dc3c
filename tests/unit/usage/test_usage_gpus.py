"""GPU readings through NVML, and their absence without it.

Machines without an NVIDIA driver (CI's) cannot run NVML, so the reading of
its answers is checked against a stand-in with NVML's call signatures; on a
machine with a GPU, :func:`test_the_machines_gpus` reads the real devices.
"""

from __future__ import annotations

import importlib.util
import os
from types import SimpleNamespace
from typing import Any

import pytest

from moorage.usage.gpu import Gpus
from moorage.usage.scaling import DeviceSample


class NvmlError(Exception):
    pass


def nvml(devices: list[dict[str, Any]], *, graphics: bool = True) -> SimpleNamespace:
    """A module with pynvml's functions over ``devices``; a device with ``"broken"`` fails."""

    def device(handle: int) -> dict[str, Any]:
        found = devices[handle]
        if found.get("broken"):
            raise NvmlError("GPU is lost")
        return found

    def processes(key: str) -> Any:
        return lambda handle: [
            SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in device(handle)[key]
        ]

    module = SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: len(devices),
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=device(h)["util"]),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(total=device(h)["total"]),
        nvmlDeviceGetComputeRunningProcesses=processes("compute"),
    )
    if graphics:
        module.nvmlDeviceGetGraphicsRunningProcesses = processes("graphics")
    return module


def test_readings_add_up_each_process_memory_per_device() -> None:
    gpus = Gpus(
        nvml(
            [
                {"util": 70, "total": 1000, "compute": [(10, 100), (11, None)], "graphics": []},
                {"broken": True},
                # A process with compute and graphics contexts on one device.
                {"util": 5, "total": 2000, "compute": [(10, 30)], "graphics": [(10, 20)]},
            ]
        ),
        [0, 1, 2],
    )
    assert gpus.read() == [
        # usedGpuMemory None (not accounted per process): the process still holds the device.
        DeviceSample(0, 70.0, 1000, {10: 100, 11: 0}),
        DeviceSample(2, 5.0, 2000, {10: 50}),
    ]


def test_drivers_without_graphics_process_lists_are_read() -> None:
    gpus = Gpus(nvml([{"util": 1, "total": 10, "compute": [(3, 4)]}], graphics=False), [0])
    assert gpus.read() == [DeviceSample(0, 1.0, 10, {3: 4})]


@pytest.mark.skipif(
    importlib.util.find_spec("pynvml") is not None and os.path.exists("/dev/nvidiactl"),
    reason="this machine has NVML and a GPU driver",
)
def test_no_gpus_without_nvml() -> None:
    assert Gpus.open() is None


@pytest.mark.skipif(
    importlib.util.find_spec("pynvml") is None or not os.path.exists("/dev/nvidiactl"),
    reason="needs the pynvml module and an NVIDIA driver",
)
def test_the_machines_gpus() -> None:
    gpus = Gpus.open()
    assert gpus is not None
    try:
        samples = gpus.read()
        assert samples and all(0 <= s.utilization <= 100 and s.memory_total > 0 for s in samples)
    finally:
        gpus.close()
