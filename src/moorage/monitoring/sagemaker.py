"""SageMaker's endpoint invocation metrics, recorded for every invocation.

:class:`InvocationMetrics` has the shape of ``runtime/``'s invocation observer
(``invoked(endpoint, variant, config_name, status, model_latency_s,
overhead_s, instances)``) and writes what SageMaker publishes to CloudWatch, in the
``AWS/SageMaker`` namespace with dimensions ``EndpointName`` and
``VariantName``:

| Metric | Unit | Per invocation |
|---|---|---|
| ``Invocations`` | Count | 1 |
| ``Invocation4XXErrors`` | Count | 1 for a 4xx answer, else 0 |
| ``Invocation5XXErrors`` | Count | 1 for a 5xx answer, else 0 |
| ``InvocationModelErrors`` | Count | 1 for any answer of the model but 2xx, else 0 |
| ``InvocationsPerInstance`` | Count | 1 / the variant's instances |
| ``ModelLatency`` | Microseconds | time the model took |
| ``OverheadLatency`` | Microseconds | time moorage added |

The invocation observer also passes the name of the endpoint config whose
fleet answered, and the same metrics are recorded a second time with the
dimensions ``EndpointName``, ``VariantName`` and ``EndpointConfigName``, at
all times as SageMaker does: that is how an alarm (or a person) watches the
new fleet alone during a deployment.

Requests copied to a shadow variant (:mod:`moorage.runtime.shadow`) are
recorded the same way under the shadow's ``VariantName``; a copied request
the shadow could not take (its queue full, no healthy instance) adds 1 to
``ShadowRequestsDropped`` (Count, dimensions ``EndpointName`` and
``VariantName``), a moorage metric.

An invocation of an inference component is also recorded with the
dimension ``InferenceComponentName`` alone
(:mod:`moorage.monitoring.component_metrics`, through
:meth:`InvocationMetrics.component_invoked`).

Recording the zeros is what SageMaker does, and what makes ``Average`` of
the error metrics an error rate. Recorders are built once per variant and
config, so an invocation costs seven bucket updates per dimension set and
one clock read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moorage.monitoring.component_metrics import ComponentMetrics
from moorage.monitoring.invocation_series import (
    NAMESPACE,
    InvocationSeries,
    invocation_series,
    recorder,
)
from moorage.monitoring.keys import StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

__all__ = ["NAMESPACE", "SHADOW_DROPPED", "InvocationMetrics"]

SHADOW_DROPPED = "ShadowRequestsDropped"
# Recorders kept for (endpoint, variant, config) series; rebuilt when dropped.
_MAX_FLEETS = 1024


@dataclass(frozen=True)
class _VariantSeries:
    series: InvocationSeries
    per_instance: Recorder

    def record(
        self, status: int, model_s: float, overhead_s: float, instances: int, ts: float
    ) -> None:
        self.series.record(status, model_s, overhead_s, ts)
        if instances > 0:
            self.per_instance.record(1.0 / instances, ts)

    def record_many(
        self,
        statuses: Sequence[int],
        model_s: Sequence[float],
        overhead_s: Sequence[float],
        instances: int,
        ts: float,
    ) -> None:
        self.series.record_many(statuses, model_s, overhead_s, ts)
        if instances > 0 and statuses:
            self.per_instance.record_values((1.0 / instances,), (float(len(statuses)),), ts)


class InvocationMetrics:
    """Writes SageMaker's invocation metrics to a :class:`MetricStore`."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._now = store.clock.now
        self._variants: dict[tuple[str, str], _VariantSeries] = {}
        self._dropped: dict[tuple[str, str], Recorder] = {}
        self._fleets: dict[tuple[str, str, str], _VariantSeries] = {}
        self._components = ComponentMetrics(store)

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
        """An invocation of ``variant``, answered by the fleet of ``config_name``.

        ``instances`` is the variant's instance count then (0 when unknown:
        no ``InvocationsPerInstance``).
        """
        ts = self._now()
        for series in self._series(endpoint, variant, config_name):
            series.record(status, model_latency_s, overhead_s, instances, ts)

    def invoked_many(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        statuses: Sequence[int],
        model_latencies_s: Sequence[float],
        overheads_s: Sequence[float],
        instances: int = 0,
    ) -> None:
        """Several invocations alike but for status and latencies, as :meth:`invoked` each."""
        ts = self._now()
        for series in self._series(endpoint, variant, config_name):
            series.record_many(statuses, model_latencies_s, overheads_s, instances, ts)

    def _series(
        self, endpoint: str, variant: str, config_name: str | None
    ) -> tuple[_VariantSeries, ...]:
        """The variant's series, and the answering fleet's (its config's) when known."""
        found = self._variants.get((endpoint, variant))
        if found is None:
            found = self._variants[(endpoint, variant)] = self._recorders(endpoint, variant)
        if config_name is None:
            return (found,)
        key = (endpoint, variant, config_name)
        fleet = self._fleets.get(key)
        if fleet is None:
            if len(self._fleets) >= _MAX_FLEETS:
                self._fleets.clear()
            fleet = self._fleets[key] = self._recorders(endpoint, variant, config_name)
        return (found, fleet)

    def component_invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        """An invocation of inference ``component``, served by ``copies`` copies."""
        self._components.invoked(component, copies, status, model_latency_s, overhead_s)

    def component_invoked_many(
        self,
        component: str,
        copies: int,
        statuses: Sequence[int],
        model_latencies_s: Sequence[float],
        overheads_s: Sequence[float],
    ) -> None:
        """Several invocations of ``component``, as :meth:`component_invoked` each."""
        self._components.invoked_many(component, copies, statuses, model_latencies_s, overheads_s)

    def shadow_dropped(self, endpoint: str, variant: str) -> None:
        """A request copied to shadow ``variant`` was dropped."""
        found = self._dropped.get((endpoint, variant))
        if found is None:
            dims = {"EndpointName": endpoint, "VariantName": variant}
            found = recorder(self._store, SHADOW_DROPPED, dims, StandardUnit.COUNT)
            self._dropped[(endpoint, variant)] = found
        found.record(1.0, self._now())

    def _recorders(
        self, endpoint: str, variant: str, config_name: str | None = None
    ) -> _VariantSeries:
        dims = {"EndpointName": endpoint, "VariantName": variant}
        if config_name is not None:
            dims["EndpointConfigName"] = config_name
        return _VariantSeries(
            invocation_series(self._store, dims),
            recorder(self._store, "InvocationsPerInstance", dims, StandardUnit.COUNT),
        )
