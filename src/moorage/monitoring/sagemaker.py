"""SageMaker's endpoint invocation metrics, recorded for every invocation.

:class:`InvocationMetrics` has the shape of ``runtime/``'s invocation observer
(``invoked(endpoint, variant, config_name, status, model_latency_s,
overhead_s)``) and writes what SageMaker publishes to CloudWatch, in the
``AWS/SageMaker`` namespace with dimensions ``EndpointName`` and
``VariantName``:

| Metric | Unit | Per invocation |
|---|---|---|
| ``Invocations`` | Count | 1 |
| ``Invocation4XXErrors`` | Count | 1 for a 4xx answer, else 0 |
| ``Invocation5XXErrors`` | Count | 1 for a 5xx answer, else 0 |
| ``ModelLatency`` | Microseconds | time the model took |
| ``OverheadLatency`` | Microseconds | time moorage added |

While an endpoint is being updated the invocation observer also passes the
name of the endpoint config whose fleet answered, and the same metrics are
recorded a second time with the dimensions ``EndpointName``,
``VariantName`` and ``EndpointConfigName``: that is how an alarm (or a
person) watches the new fleet alone during a deployment, as on SageMaker.

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
the error metrics an error rate. Recorders are built once per variant, so an
invocation costs five bucket updates and one clock read.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.monitoring.component_metrics import ComponentMetrics
from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

NAMESPACE = "AWS/SageMaker"
SHADOW_DROPPED = "ShadowRequestsDropped"
# Recorders kept for (endpoint, variant, config) series; rebuilt when dropped.
_MAX_FLEETS = 1024


@dataclass(frozen=True)
class _VariantRecorders:
    invocations: Recorder
    errors_4xx: Recorder
    errors_5xx: Recorder
    model_latency: Recorder
    overhead_latency: Recorder


class InvocationMetrics:
    """Writes SageMaker's invocation metrics to a :class:`MetricStore`."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._now = store.clock.now
        self._variants: dict[tuple[str, str], _VariantRecorders] = {}
        self._dropped: dict[tuple[str, str], Recorder] = {}
        self._fleets: dict[tuple[str, str, str], _VariantRecorders] = {}
        self._components = ComponentMetrics(store)

    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        found = self._variants.get((endpoint, variant))
        if found is None:
            found = self._variants[(endpoint, variant)] = self._recorders(endpoint, variant)
        ts = self._now()
        _record(found, status, model_latency_s, overhead_s, ts)
        if config_name is not None:
            key = (endpoint, variant, config_name)
            fleet = self._fleets.get(key)
            if fleet is None:
                if len(self._fleets) >= _MAX_FLEETS:
                    self._fleets.clear()
                fleet = self._fleets[key] = self._recorders(endpoint, variant, config_name)
            _record(fleet, status, model_latency_s, overhead_s, ts)

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

    def shadow_dropped(self, endpoint: str, variant: str) -> None:
        """A request copied to shadow ``variant`` was dropped."""
        recorder = self._dropped.get((endpoint, variant))
        if recorder is None:
            dims = {"EndpointName": endpoint, "VariantName": variant}
            key = MetricKey.of(NAMESPACE, SHADOW_DROPPED, dims)
            recorder = self._store.recorder(key, StandardUnit.COUNT.value)
            self._dropped[(endpoint, variant)] = recorder
        recorder.record(1.0, self._now())

    def _recorders(
        self, endpoint: str, variant: str, config_name: str | None = None
    ) -> _VariantRecorders:
        dims = {"EndpointName": endpoint, "VariantName": variant}
        if config_name is not None:
            dims["EndpointConfigName"] = config_name

        def rec(name: str, unit: StandardUnit) -> Recorder:
            return self._store.recorder(MetricKey.of(NAMESPACE, name, dims), unit.value)

        return _VariantRecorders(
            invocations=rec("Invocations", StandardUnit.COUNT),
            errors_4xx=rec("Invocation4XXErrors", StandardUnit.COUNT),
            errors_5xx=rec("Invocation5XXErrors", StandardUnit.COUNT),
            model_latency=rec("ModelLatency", StandardUnit.MICROSECONDS),
            overhead_latency=rec("OverheadLatency", StandardUnit.MICROSECONDS),
        )


def _record(
    recorders: _VariantRecorders, status: int, model_latency_s: float, overhead_s: float, ts: float
) -> None:
    recorders.invocations.record(1.0, ts)
    recorders.errors_4xx.record(1.0 if 400 <= status < 500 else 0.0, ts)
    recorders.errors_5xx.record(1.0 if status >= 500 else 0.0, ts)
    recorders.model_latency.record(model_latency_s * 1e6, ts)
    recorders.overhead_latency.record(overhead_s * 1e6, ts)
