"""SageMaker's sampled metrics: utilization, concurrent requests, model setup time.

:class:`UsageMetrics` records what the usage sampler (:mod:`moorage.usage`)
measures every sampling interval, with SageMaker's names, units, namespaces
and dimensions:

- ``/aws/sagemaker/Endpoints``, dimensions ``EndpointName`` and
  ``VariantName``, Percent, one value per instance: ``CPUUtilization``
  (0 to 100 times its vCPUs), ``MemoryUtilization`` and ``DiskUtilization``
  (0 to 100), ``GPUUtilization`` and ``GPUMemoryUtilization`` (0 to 100 times its GPUs);
- ``/aws/sagemaker/InferenceComponents``, dimension
  ``InferenceComponentName``, Percent, one value per copy, each 0 to 100:
  ``CPUUtilizationNormalized``, ``MemoryUtilizationNormalized``,
  ``GPUUtilizationNormalized``, ``GPUMemoryUtilizationNormalized``;
- ``AWS/SageMaker``, unit None, one value per copy (its model server): the
  requests in flight, as ``ConcurrentRequestsPerModel`` and
  ``ConcurrentRequestsPerModelHighResolution`` (``EndpointName``,
  ``VariantName``) and, for a component's copy, ``ConcurrentRequestsPerCopy``
  (``InferenceComponentName``);
- ``AWS/SageMaker``, Microseconds, once per copy started: ``ModelSetupTime``
  (``EndpointName``, ``VariantName``; and ``InferenceComponentName``).

Several instances or copies give several values per sample, which
CloudWatch's statistics then aggregate (``Average`` across instances,
``Maximum`` for the busiest copy), as on SageMaker. A value that could not
be measured (``None``) is left out. See docs/metrics-and-alarms.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.monitoring.keys import StandardUnit
from moorage.monitoring.store import MetricStore

ENDPOINTS = "/aws/sagemaker/Endpoints"
COMPONENTS = "/aws/sagemaker/InferenceComponents"
INVOCATIONS = "AWS/SageMaker"
COMPONENT = "InferenceComponentName"

_PERCENT = StandardUnit.PERCENT.value


@dataclass(frozen=True)
class InstanceUsage:
    """One instance of a variant, scaled as SageMaker publishes it."""

    endpoint: str
    variant: str
    cpu: float | None
    memory: float | None
    disk: float | None
    gpu: float | None = None
    gpu_memory: float | None = None


@dataclass(frozen=True)
class CopyUsage:
    """One copy of an inference component, each value 0 to 100."""

    component: str
    cpu: float | None
    memory: float | None
    gpu: float | None = None
    gpu_memory: float | None = None


class UsageMetrics:
    """Records sampled usage into a :class:`MetricStore` (on the event loop's thread)."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store

    def instance(self, usage: InstanceUsage, ts: float) -> None:
        dims = {"EndpointName": usage.endpoint, "VariantName": usage.variant}
        for name, value in (
            ("CPUUtilization", usage.cpu),
            ("MemoryUtilization", usage.memory),
            ("DiskUtilization", usage.disk),
            ("GPUUtilization", usage.gpu),
            ("GPUMemoryUtilization", usage.gpu_memory),
        ):
            if value is not None:
                self._store.record(ENDPOINTS, name, dims, value, _PERCENT, ts)

    def component_copy(self, usage: CopyUsage, ts: float) -> None:
        dims = {COMPONENT: usage.component}
        for name, value in (
            ("CPUUtilizationNormalized", usage.cpu),
            ("MemoryUtilizationNormalized", usage.memory),
            ("GPUUtilizationNormalized", usage.gpu),
            ("GPUMemoryUtilizationNormalized", usage.gpu_memory),
        ):
            if value is not None:
                self._store.record(COMPONENTS, name, dims, value, _PERCENT, ts)

    def concurrent(
        self, endpoint: str, variant: str, component: str | None, inflight: int, ts: float
    ) -> None:
        """Requests in flight on one copy (its model server) when sampled."""
        value = float(inflight)
        unit = StandardUnit.NONE.value
        dims = {"EndpointName": endpoint, "VariantName": variant}
        self._store.record(INVOCATIONS, "ConcurrentRequestsPerModel", dims, value, unit, ts)
        # The name of the high-resolution form the scaling metric type
        # SageMakerVariantConcurrentRequestsPerModelHighResolution refers to.
        self._store.record(
            INVOCATIONS, "ConcurrentRequestsPerModelHighResolution", dims, value, unit, ts
        )
        if component is not None:
            self._store.record(
                INVOCATIONS, "ConcurrentRequestsPerCopy", {COMPONENT: component}, value, unit, ts
            )

    def setup_time(
        self, endpoint: str, variant: str, component: str | None, seconds: float, ts: float
    ) -> None:
        """A copy took ``seconds`` from being asked for to passing its ping."""
        micros = max(0.0, seconds) * 1e6
        unit = StandardUnit.MICROSECONDS.value
        dims = {"EndpointName": endpoint, "VariantName": variant}
        self._store.record(INVOCATIONS, "ModelSetupTime", dims, micros, unit, ts)
        if component is not None:
            self._store.record(
                INVOCATIONS, "ModelSetupTime", {COMPONENT: component}, micros, unit, ts
            )
