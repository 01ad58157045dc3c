"""SageMaker's per-inference-component invocation metrics.

An invocation of an inference component (``InvokeEndpoint`` with
``InferenceComponentName``) is recorded, besides the endpoint and variant
metrics of :mod:`moorage.monitoring.sagemaker`, in the ``AWS/SageMaker``
namespace with the single dimension ``InferenceComponentName``, as SageMaker
publishes it:

| Metric | Unit | Per invocation |
|---|---|---|
| ``Invocations`` | Count | 1 |
| ``InvocationsPerCopy`` | Count | 1 / the copies serving the component |
| ``Invocation4XXErrors`` | Count | 1 for a 4xx answer, else 0 |
| ``Invocation5XXErrors`` | Count | 1 for a 5xx answer, else 0 |
| ``ModelLatency`` | Microseconds | time the model took |
| ``OverheadLatency`` | Microseconds | time moorage added |

``Sum`` of ``InvocationsPerCopy`` is the invocations each copy received on
average (SageMaker's target metric for scaling copies); an adapter
component's copies are its base component's. Recorders are built once per
component, so the hot path is one dictionary lookup and six bucket updates.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

NAMESPACE = "AWS/SageMaker"
DIMENSION = "InferenceComponentName"
# Components with recorders kept; past this the table starts afresh.
_MAX_COMPONENTS = 4096


@dataclass(frozen=True)
class _ComponentRecorders:
    invocations: Recorder
    per_copy: Recorder
    errors_4xx: Recorder
    errors_5xx: Recorder
    model_latency: Recorder
    overhead_latency: Recorder


class ComponentMetrics:
    """Writes the ``InferenceComponentName`` invocation metrics to a :class:`MetricStore`."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._now = store.clock.now
        self._components: dict[str, _ComponentRecorders] = {}

    def invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        found = self._components.get(component)
        if found is None:
            if len(self._components) >= _MAX_COMPONENTS:
                self._components.clear()
            found = self._components[component] = self._recorders(component)
        ts = self._now()
        found.invocations.record(1.0, ts)
        found.per_copy.record(1.0 / copies if copies > 0 else 1.0, ts)
        found.errors_4xx.record(1.0 if 400 <= status < 500 else 0.0, ts)
        found.errors_5xx.record(1.0 if status >= 500 else 0.0, ts)
        found.model_latency.record(model_latency_s * 1e6, ts)
        found.overhead_latency.record(overhead_s * 1e6, ts)

    def _recorders(self, component: str) -> _ComponentRecorders:
        dims = {DIMENSION: component}

        def rec(name: str, unit: StandardUnit) -> Recorder:
            return self._store.recorder(MetricKey.of(NAMESPACE, name, dims), unit.value)

        return _ComponentRecorders(
            invocations=rec("Invocations", StandardUnit.COUNT),
            per_copy=rec("InvocationsPerCopy", StandardUnit.COUNT),
            errors_4xx=rec("Invocation4XXErrors", StandardUnit.COUNT),
            errors_5xx=rec("Invocation5XXErrors", StandardUnit.COUNT),
            model_latency=rec("ModelLatency", StandardUnit.MICROSECONDS),
            overhead_latency=rec("OverheadLatency", StandardUnit.MICROSECONDS),
        )
