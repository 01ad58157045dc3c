"""The six series SageMaker records per invocation, for one set of dimensions.

``Invocations`` (1), ``Invocation4XXErrors``, ``Invocation5XXErrors`` and
``InvocationModelErrors`` (1 or 0, so ``Average`` is an error rate; a model
error is any answer of the model that is not 2xx, a timeout or a broken
answer included), ``ModelLatency`` and ``OverheadLatency`` (microseconds), in
``AWS/SageMaker``. Built once per
dimension set (:func:`invocation_series`) and then recorded with one clock
read (:meth:`InvocationSeries.record`); the variant, fleet and component
metrics all use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

NAMESPACE = "AWS/SageMaker"


@dataclass(frozen=True)
class InvocationSeries:
    invocations: Recorder
    errors_4xx: Recorder
    errors_5xx: Recorder
    model_errors: Recorder
    model_latency: Recorder
    overhead_latency: Recorder

    def record(self, status: int, model_latency_s: float, overhead_s: float, ts: float) -> None:
        self.invocations.record(1.0, ts)
        self.errors_4xx.record(1.0 if 400 <= status < 500 else 0.0, ts)
        self.errors_5xx.record(1.0 if status >= 500 else 0.0, ts)
        self.model_errors.record(0.0 if 200 <= status < 300 else 1.0, ts)
        self.model_latency.record(model_latency_s * 1e6, ts)
        self.overhead_latency.record(overhead_s * 1e6, ts)

    def record_many(
        self,
        statuses: Sequence[int],
        model_latencies_s: Sequence[float],
        overheads_s: Sequence[float],
        ts: float,
    ) -> None:
        """Several invocations at one ``ts``: the same data as :meth:`record` once each."""
        count = len(statuses)
        if not count:
            return
        client = sum(1 for s in statuses if 400 <= s < 500)
        server = sum(1 for s in statuses if s >= 500)
        answered = sum(1 for s in statuses if 200 <= s < 300)
        self.invocations.record_values((1.0,), (float(count),), ts)
        for recorder_, ones in (
            (self.errors_4xx, client),
            (self.errors_5xx, server),
            (self.model_errors, count - answered),
        ):
            recorder_.record_values((1.0, 0.0), (float(ones), float(count - ones)), ts)
        self.model_latency.record_many([v * 1e6 for v in model_latencies_s], ts)
        self.overhead_latency.record_many([v * 1e6 for v in overheads_s], ts)


def recorder(
    store: MetricStore, name: str, dims: Mapping[str, str], unit: StandardUnit
) -> Recorder:
    """The ``AWS/SageMaker`` series ``name`` with ``dims``."""
    return store.recorder(MetricKey.of(NAMESPACE, name, dims), unit.value)


def invocation_series(store: MetricStore, dims: Mapping[str, str]) -> InvocationSeries:
    return InvocationSeries(
        invocations=recorder(store, "Invocations", dims, StandardUnit.COUNT),
        errors_4xx=recorder(store, "Invocation4XXErrors", dims, StandardUnit.COUNT),
        errors_5xx=recorder(store, "Invocation5XXErrors", dims, StandardUnit.COUNT),
        model_errors=recorder(store, "InvocationModelErrors", dims, StandardUnit.COUNT),
        model_latency=recorder(store, "ModelLatency", dims, StandardUnit.MICROSECONDS),
        overhead_latency=recorder(store, "OverheadLatency", dims, StandardUnit.MICROSECONDS),
    )
