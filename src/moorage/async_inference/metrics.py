"""SageMaker's metrics of asynchronous endpoints, recorded into the metric store.

In ``AWS/SageMaker``, as AWS's page on monitoring asynchronous endpoints
lists them. With the dimension ``EndpointName``, sampled every metrics
interval and whenever the queue changes (:meth:`AsyncMetrics.backlog`):

| Metric | Unit |
|---|---|
| ``ApproximateBacklogSize`` (waiting and running) | Count |
| ``ApproximateBacklogSizePerInstance`` (backlog / instances) | Count |
| ``ApproximateAgeOfOldestRequest`` | Seconds |
| ``HasBacklogWithoutCapacity`` (1 with a backlog and no instance, else 0) | Count |

With ``EndpointName`` and ``VariantName``, per request: ``TimeInBacklog``
(Microseconds), ``TotalProcessingTime`` (Milliseconds),
``InvocationsProcesssed`` (Count, AWS's spelling; moorage also records
``InvocationsProcessed``), ``InvocationFailures``, ``ExpiredRequests``,
``RequestDownloadFailures``, ``ResponseUploadFailures``,
``NotificationFailures`` (Count), ``RequestDownloadLatency`` and
``ResponseUploadLatency`` (Microseconds); and, as for real-time endpoints,
``ModelLatency``, ``Invocation4XXErrors`` and ``Invocation5XXErrors``.
Asynchronous endpoints do not publish ``Invocations``,
``InvocationsPerInstance`` or ``OverheadLatency`` (AWS's list is exhaustive).
A request that never reached a variant (it expired waiting) is recorded
under the variant the endpoint's first production variant names.
"""

from __future__ import annotations

from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

NAMESPACE = "AWS/SageMaker"

_COUNT = StandardUnit.COUNT.value
_MICROS = StandardUnit.MICROSECONDS.value
_MILLIS = StandardUnit.MILLISECONDS.value
_SECONDS = StandardUnit.SECONDS.value

PROCESSED = ("InvocationsProcesssed", "InvocationsProcessed")


class AsyncMetrics:
    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._recorders: dict[tuple[str, str, str, str], Recorder] = {}

    def _recorder(self, name: str, unit: str, endpoint: str, variant: str = "") -> Recorder:
        key = (name, unit, endpoint, variant)
        found = self._recorders.get(key)
        if found is None:
            dims = {"EndpointName": endpoint}
            if variant:
                dims["VariantName"] = variant
            found = self._store.recorder(MetricKey.of(NAMESPACE, name, dims), unit)
            if len(self._recorders) > 10_000:
                self._recorders.clear()
            self._recorders[key] = found
        return found

    def backlog(self, endpoint: str, size: int, instances: int, oldest_age_s: float) -> None:
        """The endpoint's queue now: requests waiting or running, and its instances."""
        self._recorder("ApproximateBacklogSize", _COUNT, endpoint).record(float(size))
        per_instance = size / instances if instances else float(size)
        self._recorder("ApproximateBacklogSizePerInstance", _COUNT, endpoint).record(per_instance)
        self._recorder("ApproximateAgeOfOldestRequest", _SECONDS, endpoint).record(oldest_age_s)
        without = 1.0 if size and not instances else 0.0
        self._recorder("HasBacklogWithoutCapacity", _COUNT, endpoint).record(without)

    def processed(
        self,
        endpoint: str,
        variant: str,
        *,
        failed: bool,
        time_in_backlog_s: float,
        total_s: float,
    ) -> None:
        for name in PROCESSED:
            self._recorder(name, _COUNT, endpoint, variant).record(1.0)
        self._recorder("InvocationFailures", _COUNT, endpoint, variant).record(
            1.0 if failed else 0.0
        )
        self._recorder("TimeInBacklog", _MICROS, endpoint, variant).record(
            max(0.0, time_in_backlog_s) * 1e6
        )
        self._recorder("TotalProcessingTime", _MILLIS, endpoint, variant).record(
            max(0.0, total_s) * 1e3
        )

    def model_answered(self, endpoint: str, variant: str, status: int, latency_s: float) -> None:
        self._recorder("ModelLatency", _MICROS, endpoint, variant).record(latency_s * 1e6)
        self._recorder("Invocation4XXErrors", _COUNT, endpoint, variant).record(
            1.0 if 400 <= status < 500 else 0.0
        )
        self._recorder("Invocation5XXErrors", _COUNT, endpoint, variant).record(
            1.0 if status >= 500 else 0.0
        )

    def count(self, name: str, endpoint: str, variant: str) -> None:
        """One of ExpiredRequests, RequestDownloadFailures, ResponseUploadFailures,
        NotificationFailures."""
        self._recorder(name, _COUNT, endpoint, variant).record(1.0)

    def latency(self, name: str, endpoint: str, variant: str, seconds: float) -> None:
        """RequestDownloadLatency or ResponseUploadLatency."""
        self._recorder(name, _MICROS, endpoint, variant).record(seconds * 1e6)
