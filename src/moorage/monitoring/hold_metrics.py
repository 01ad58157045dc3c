"""Metrics of invocations that found no copy (:mod:`moorage.runtime.hold`).

In the ``AWS/SageMaker`` namespace:

| Metric | Dimensions | Unit | When |
|---|---|---|---|
| ``NoCapacityInvocationFailures`` | ``InferenceComponentName`` | Count | an invocation of a component with no copy ready (AWS's metric; moorage counts it whether or not the request is then held, so AWS's scale-from-zero alarm works unchanged) |
| ``ColdStartWaitTime`` | ``EndpointName``, ``VariantName`` | Microseconds | a held request waited this long for a copy (moorage's metric) |
| ``ColdStartWaitTime`` | ``InferenceComponentName`` | Microseconds | the same, for a component's request |
"""  # noqa: E501

from __future__ import annotations

from moorage.monitoring.component_metrics import DIMENSION
from moorage.monitoring.invocation_series import recorder
from moorage.monitoring.keys import StandardUnit
from moorage.monitoring.store import MetricStore

NO_CAPACITY = "NoCapacityInvocationFailures"
COLD_START_WAIT = "ColdStartWaitTime"


class HoldMetrics:
    """A :class:`moorage.runtime.hold.HoldObserver` writing to a :class:`MetricStore`.

    Not on the hot path (only requests that found no copy), so recorders are
    looked up per call.
    """

    def __init__(self, store: MetricStore) -> None:
        self._store = store

    def no_capacity(self, component: str) -> None:
        found = recorder(self._store, NO_CAPACITY, {DIMENSION: component}, StandardUnit.COUNT)
        found.record(1.0, self._store.clock.now())

    def held(self, endpoint: str, variant: str, component: str | None, waited_s: float) -> None:
        now = self._store.clock.now()
        micros = waited_s * 1e6
        dims = {"EndpointName": endpoint, "VariantName": variant}
        recorder(self._store, COLD_START_WAIT, dims, StandardUnit.MICROSECONDS).record(micros, now)
        if component is not None:
            by_component = {DIMENSION: component}
            unit = StandardUnit.MICROSECONDS
            recorder(self._store, COLD_START_WAIT, by_component, unit).record(micros, now)
