"""Usage of the copies' processes: SageMaker's utilization and concurrency metrics.

Neighbours: ``fleet/`` says which processes serve which copy
(:mod:`moorage.fleet.processes`); ``monitoring/`` records the metrics
(:mod:`moorage.monitoring.usage_metrics`). Here: the probe that reads the
processes (psutil, and NVML where there is one), the pure scaling to
SageMaker's units, and the sampler task that ties them together.
See docs/metrics-and-alarms.md, "Utilization and concurrency".
"""

from moorage.usage.probe import ProcessProbe
from moorage.usage.sampler import DEFAULT_INTERVAL_S, UsageSampler

__all__ = ["DEFAULT_INTERVAL_S", "ProcessProbe", "UsageSampler"]
