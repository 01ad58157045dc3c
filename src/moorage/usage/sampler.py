"""The usage sampler: every interval, what the copies use, into the metric store.

A background task of the server (:class:`UsageSampler`). Each sample takes
the fleet's snapshot of its ready copies (:class:`moorage.fleet.processes.ProcessView`)
on the event loop and records, at once:

- each copy's requests in flight (``ConcurrentRequestsPerModel``, and
  ``ConcurrentRequestsPerCopy`` for a component's copy): a reading of the
  counter the router keeps, so invocations do no work for it;
- ``ModelSetupTime`` of each copy seen for the first time (from the start
  being asked for, model data download included, to the first answered ping);

then reads the processes in a worker thread (:class:`moorage.usage.probe.ProcessProbe`:
psutil's reads of ``/proc`` and NVML's calls stay off the event loop) and
records the utilization metrics, scaled by :mod:`moorage.usage.scaling`.
A failing sample is logged and the next one runs as usual. Samples follow
real time (``interval_s`` seconds apart, also under a scaled clock: they
measure real processes); values are stamped with the server's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from moorage.clock import Clock
from moorage.fleet.processes import ProcessView
from moorage.monitoring.usage_metrics import UsageMetrics
from moorage.usage.probe import ProcessProbe
from moorage.usage.scaling import copy_usages, instance_usages

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0


class UsageSampler:
    def __init__(
        self,
        fleet: ProcessView,
        metrics: UsageMetrics,
        clock: Clock,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        probe: ProcessProbe | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the sampling interval must be positive")
        self.fleet = fleet
        self.metrics = metrics
        self.clock = clock
        self.interval_s = interval_s
        self.probe = probe or ProcessProbe()
        self._sleep = sleep
        # Copies whose ModelSetupTime is recorded (those still running).
        self._set_up: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="usage-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self.probe.close)

    async def run(self) -> None:
        while True:
            await self._sleep(self.interval_s)
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Logged once until a sample succeeds again, not every interval.
                if not self._failing:
                    log.exception("sampling the copies' usage failed; trying again")
                self._failing = True
            else:
                self._failing = False

    async def sample(self) -> None:
        """One sample of every ready copy."""
        processes = self.fleet.processes()
        now = self.clock.now()
        metrics = self.metrics
        running = set()
        for process in processes:
            running.add(process.copy_id)
            metrics.concurrent(
                process.endpoint, process.variant, process.component, process.inflight, now
            )
            if process.copy_id not in self._set_up:
                self._set_up.add(process.copy_id)
                metrics.setup_time(
                    process.endpoint,
                    process.variant,
                    process.component,
                    process.ready_at - process.started_at,
                    now,
                )
        self._set_up &= running
        if not processes:
            return
        readings = await asyncio.to_thread(self.probe.read, processes)
        now = self.clock.now()
        for instance in instance_usages(readings):
            metrics.instance(instance, now)
        for copy in copy_usages(readings):
            metrics.component_copy(copy, now)
