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
| ``InvocationModelErrors`` | Count | 1 for any answer of the model but 2xx, else 0 |
| ``ModelLatency`` | Microseconds | time the model took |
| ``OverheadLatency`` | Microseconds | time moorage added |

``Sum`` of ``InvocationsPerCopy`` is the invocations each copy received on
average (SageMaker's target metric for scaling copies); an adapter
component's copies are its base component's. Recorders are built once per
component, so the hot path is one dictionary lookup and seven bucket updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moorage.monitoring.invocation_series import InvocationSeries, invocation_series, recorder
from moorage.monitoring.keys import StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

DIMENSION = "InferenceComponentName"
# Components with recorders kept; past this the table starts afresh.
_MAX_COMPONENTS = 4096


@dataclass(frozen=True)
class _ComponentRecorders:
    series: InvocationSeries
    per_copy: Recorder


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
        found = self._found(component)
        ts = self._now()
        found.series.record(status, model_latency_s, overhead_s, ts)
        found.per_copy.record(1.0 / copies if copies > 0 else 1.0, ts)

    def invoked_many(
        self,
        component: str,
        copies: int,
        statuses: Sequence[int],
        model_latencies_s: Sequence[float],
        overheads_s: Sequence[float],
    ) -> None:
        """Several invocations alike but for status and latencies, as :meth:`invoked` each."""
        if not statuses:
            return
        found = self._found(component)
        ts = self._now()
        found.series.record_many(statuses, model_latencies_s, overheads_s, ts)
        share = 1.0 / copies if copies > 0 else 1.0
        found.per_copy.record_values((share,), (float(len(statuses)),), ts)

    def _found(self, component: str) -> _ComponentRecorders:
        found = self._components.get(component)
        if found is None:
            if len(self._components) >= _MAX_COMPONENTS:
                self._components.clear()
            found = self._components[component] = self._recorders(component)
        return found

    def _recorders(self, component: str) -> _ComponentRecorders:
        dims = {DIMENSION: component}
        return _ComponentRecorders(
            series=invocation_series(self._store, dims),
            per_copy=recorder(self._store, "InvocationsPerCopy", dims, StandardUnit.COUNT),
        )
