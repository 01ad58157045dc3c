"""SageMaker's multi-model endpoint and multi-container metrics, into the metric store.

:class:`MultiModelMetrics` records what SageMaker publishes for multi-model
endpoints (dimensions ``EndpointName``, ``VariantName``):

- ``AWS/SageMaker``, Microseconds: ``ModelLoadingWaitTime`` (per invocation
  that waited for its model to be downloaded or loaded), ``ModelDownloadingTime``
  (per model fetched to local disk), ``ModelLoadingTime`` (per load through the
  container's ``POST /models``), ``ModelUnloadingTime`` (per unload through
  ``DELETE /models/{name}``);
- ``AWS/SageMaker``, None: ``ModelCacheHit``, per invocation 1 if its model
  was loaded, else 0 (so ``Average`` is the hit ratio);
- ``/aws/sagemaker/Endpoints``, None: ``LoadedModelCount``, per instance
  each sample, the models loaded in its container.

:class:`ContainerMetrics` records the per-container metrics of
multi-container models (dimensions ``EndpointName``, ``VariantName``,
``ContainerName``): ``ContainerLatency`` (Microseconds) for every call of a
container, of a serial inference pipeline or invoked directly, and for
direct invocation also ``Invocations``, ``Invocation4XXErrors``,
``Invocation5XXErrors`` (Count) and ``OverheadLatency`` (Microseconds).
Recorders are built once per series and kept. Nothing here does I/O.
"""

from __future__ import annotations

from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

INVOCATIONS = "AWS/SageMaker"
ENDPOINTS = "/aws/sagemaker/Endpoints"
# Series kept before the table of recorders is rebuilt (each is rebuilt on use).
_MAX_SERIES = 4096


class _Recorders:
    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._kept: dict[tuple[str, ...], Recorder] = {}

    def get(
        self, namespace: str, name: str, unit: StandardUnit, dims: tuple[tuple[str, str], ...]
    ) -> Recorder:
        key = (namespace, name, *(value for _, value in dims))
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= _MAX_SERIES:
                self._kept.clear()
            found = self._store.recorder(MetricKey.of(namespace, name, dict(dims)), unit.value)
            self._kept[key] = found
        return found


class MultiModelMetrics:
    def __init__(self, store: MetricStore) -> None:
        self._recorders = _Recorders(store)
        self._now = store.clock.now

    def _record(
        self,
        namespace: str,
        name: str,
        unit: StandardUnit,
        endpoint: str,
        variant: str,
        value: float,
    ) -> None:
        dims = (("EndpointName", endpoint), ("VariantName", variant))
        self._recorders.get(namespace, name, unit, dims).record(value, self._now())

    def loading_wait(self, endpoint: str, variant: str, seconds: float) -> None:
        self._micros("ModelLoadingWaitTime", endpoint, variant, seconds)

    def downloading(self, endpoint: str, variant: str, seconds: float) -> None:
        self._micros("ModelDownloadingTime", endpoint, variant, seconds)

    def loading(self, endpoint: str, variant: str, seconds: float) -> None:
        self._micros("ModelLoadingTime", endpoint, variant, seconds)

    def unloading(self, endpoint: str, variant: str, seconds: float) -> None:
        self._micros("ModelUnloadingTime", endpoint, variant, seconds)

    def cache_hit(self, endpoint: str, variant: str, hit: bool) -> None:
        value = 1.0 if hit else 0.0
        self._record(INVOCATIONS, "ModelCacheHit", StandardUnit.NONE, endpoint, variant, value)

    def loaded_count(self, endpoint: str, variant: str, count: int) -> None:
        """One instance's loaded models, as sampled."""
        self._record(
            ENDPOINTS, "LoadedModelCount", StandardUnit.NONE, endpoint, variant, float(count)
        )

    def _micros(self, name: str, endpoint: str, variant: str, seconds: float) -> None:
        value = max(0.0, seconds) * 1e6
        self._record(INVOCATIONS, name, StandardUnit.MICROSECONDS, endpoint, variant, value)


class ContainerMetrics:
    def __init__(self, store: MetricStore) -> None:
        self._recorders = _Recorders(store)
        self._now = store.clock.now

    def called(
        self,
        endpoint: str,
        variant: str,
        container: str,
        status: int,
        latency_s: float,
        overhead_s: float | None = None,
    ) -> None:
        """One call of ``container``; ``overhead_s`` given for a direct invocation."""
        dims = (("EndpointName", endpoint), ("VariantName", variant), ("ContainerName", container))
        now = self._now()
        get = self._recorders.get
        micros = StandardUnit.MICROSECONDS
        get(INVOCATIONS, "ContainerLatency", micros, dims).record(latency_s * 1e6, now)
        if overhead_s is None:
            return
        count = StandardUnit.COUNT
        get(INVOCATIONS, "Invocations", count, dims).record(1.0, now)
        get(INVOCATIONS, "Invocation4XXErrors", count, dims).record(
            1.0 if 400 <= status < 500 else 0.0, now
        )
        get(INVOCATIONS, "Invocation5XXErrors", count, dims).record(
            1.0 if status >= 500 else 0.0, now
        )
        get(INVOCATIONS, "OverheadLatency", micros, dims).record(overhead_s * 1e6, now)
