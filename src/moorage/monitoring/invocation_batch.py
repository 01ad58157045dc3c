"""Invocations gathered before they are recorded: the hot path only appends.

:class:`InvocationBatch` is an invocation observer whose calls append a
status and two latencies to the group of invocations that share everything
else (endpoint, variant, config and instance count; or component and copy
count). :meth:`InvocationBatch.take` hands the groups over and starts
afresh. Two users:

- :class:`BatchedInvocations`, the server's observer: it records the groups
  into :class:`~moorage.monitoring.sagemaker.InvocationMetrics` at most
  :data:`FLUSH_S` after the first of them, and at once whenever anything
  reads the metric store (:meth:`MetricStore.before_read`), so every reader
  — CloudWatch calls, alarms, autoscaling, ``/metrics`` — sees every
  invocation answered before it read;
- a router process's reports (:mod:`moorage.routers.reports`), which send
  the groups to the server process.
"""

from __future__ import annotations

import asyncio
from array import array
from typing import Any

from moorage.monitoring.sagemaker import InvocationMetrics
from moorage.monitoring.store import MetricStore

# Longest an invocation waits to be recorded when nothing reads the metrics.
FLUSH_S = 0.1

VariantKey = tuple[str, str, str | None, int]
ComponentKey = tuple[str, int]


class Group:
    """Statuses and latencies (seconds) of invocations alike in everything else."""

    __slots__ = ("model", "overhead", "statuses")

    def __init__(self) -> None:
        self.statuses: array[Any] = array("H")
        self.model: array[Any] = array("d")
        self.overhead: array[Any] = array("d")

    def add(self, status: int, model_s: float, overhead_s: float) -> None:
        self.statuses.append(status)
        self.model.append(model_s)
        self.overhead.append(overhead_s)


class InvocationBatch:
    def __init__(self) -> None:
        self.variants: dict[VariantKey, Group] = {}
        self.components: dict[ComponentKey, Group] = {}

    @property
    def empty(self) -> bool:
        return not self.variants and not self.components

    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
        instances: int = 0,
    ) -> None:
        group = self.variants.get((endpoint, variant, config_name, instances))
        if group is None:
            group = self.variants[(endpoint, variant, config_name, instances)] = Group()
            self._add_first(group, status, model_latency_s, overhead_s)
        else:
            group.add(status, model_latency_s, overhead_s)

    def component_invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        group = self.components.get((component, copies))
        if group is None:
            group = self.components[(component, copies)] = Group()
            self._add_first(group, status, model_latency_s, overhead_s)
        else:
            group.add(status, model_latency_s, overhead_s)

    def _add_first(self, group: Group, status: int, model_s: float, overhead_s: float) -> None:
        group.add(status, model_s, overhead_s)
        self._started()

    def _started(self) -> None:
        """A new group began with its first invocation (a hook for subclasses)."""

    def take(self) -> tuple[dict[VariantKey, Group], dict[ComponentKey, Group]]:
        taken = self.variants, self.components
        self.variants, self.components = {}, {}
        return taken


def record(
    metrics: InvocationMetrics,
    variants: dict[VariantKey, Group],
    components: dict[ComponentKey, Group],
) -> None:
    """Record taken groups into ``metrics``."""
    for (endpoint, variant, config_name, instances), group in variants.items():
        metrics.invoked_many(
            endpoint,
            variant,
            config_name,
            group.statuses,
            group.model,
            group.overhead,
            instances,
        )
    for (component, copies), group in components.items():
        metrics.component_invoked_many(
            component, copies, group.statuses, group.model, group.overhead
        )


class BatchedInvocations(InvocationBatch):
    """The server's invocation observer: batches, then records into ``metrics``."""

    def __init__(self, metrics: InvocationMetrics, store: MetricStore) -> None:
        super().__init__()
        self.metrics = metrics
        self._timer: asyncio.TimerHandle | None = None
        store.before_read(self.flush)

    def _started(self) -> None:
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # No loop (a synchronous caller): record at once.
                self.flush()
                return
            self._timer = loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Record everything gathered so far."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.empty:
            record(self.metrics, *self.take())

    # Whatever else the server's observer is told goes straight through.

    def shadow_dropped(self, endpoint: str, variant: str) -> None:
        self.metrics.shadow_dropped(endpoint, variant)
