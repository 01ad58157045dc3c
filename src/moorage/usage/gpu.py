"""NVIDIA GPUs through NVML, when ``pynvml`` and a driver are there.

GPU metrics are published only where NVML answers: :meth:`Gpus.open` returns
``None`` without the ``pynvml`` package (``pip install nvidia-ml-py``), without
a driver, or without a device, and the usage sampler then leaves the GPU
metrics out. Each reading asks every device for its utilization, its total
memory and the memory each process holds on it
(:class:`~moorage.usage.scaling.DeviceSample`); which of those processes are
a copy's is :func:`moorage.usage.scaling.devices_used`'s business.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from typing import Any

from moorage.usage.scaling import DeviceSample

log = logging.getLogger(__name__)


class Gpus:
    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles

    @classmethod
    def open(cls) -> Gpus | None:
        """The machine's GPUs, or None where NVML cannot be used."""
        try:
            nvml = importlib.import_module("pynvml")
        except ImportError:
            return None
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:  # NVMLError: no driver, no device, no permission
            log.info("no GPU metrics: NVML cannot be used (%s)", exc)
            return None
        if not handles:
            with contextlib.suppress(Exception):
                nvml.nvmlShutdown()
            return None
        return cls(nvml, handles)

    def read(self) -> list[DeviceSample]:
        """Every device NVML answers for (a device that fails to answer is left out)."""
        nvml = self._nvml
        samples = []
        for index, handle in enumerate(self._handles):
            try:
                utilization = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                total = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
                running = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
                graphics = getattr(nvml, "nvmlDeviceGetGraphicsRunningProcesses", None)
                if graphics is not None:
                    running += list(graphics(handle))
            except Exception:  # NVMLError (a lost device, a driver reset): skip it this time
                continue
            held: dict[int, int] = {}
            for process in running:
                pid = int(process.pid)
                # usedGpuMemory is None where the driver does not account per process.
                held[pid] = held.get(pid, 0) + int(process.usedGpuMemory or 0)
            samples.append(DeviceSample(index, utilization, total, held))
        return samples

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()
