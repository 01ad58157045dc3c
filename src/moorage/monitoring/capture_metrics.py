"""Metrics of data capture records that were lost, per endpoint variant.

:class:`CaptureMetrics` is the server's
:class:`~moorage.capture.reporting.CaptureMetricSink`: it records, in the
namespace ``/aws/sagemaker/Endpoints`` (where SageMaker publishes an
endpoint's instance metrics) with the dimensions ``EndpointName`` and
``VariantName``, two moorage metrics AWS does not have:

- ``DataCaptureRecordsFailed`` (Count): records that could not be written
  (destination unwritable, disk full, S3 failing), when the writer gives up;
- ``DataCaptureRecordsDropped`` (Count): records dropped before being
  written (the capture queue full).

Nothing is recorded while capture works, so ``Sum`` over a period is the
records lost in it and an alarm on ``Sum > 0`` should treat missing data as
not breaching. See docs/data-capture.md.
"""

from __future__ import annotations

from moorage.capture.targets import DROPPED_METRIC, FAILED_METRIC
from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, Recorder

NAMESPACE = "/aws/sagemaker/Endpoints"


class CaptureMetrics:
    """Records lost capture records into a :class:`MetricStore`."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self._recorders: dict[tuple[str, str, str], Recorder] = {}

    def records_failed(self, endpoint: str, variant: str, count: int) -> None:
        self._record(FAILED_METRIC, endpoint, variant, count)

    def records_dropped(self, endpoint: str, variant: str, count: int) -> None:
        self._record(DROPPED_METRIC, endpoint, variant, count)

    def _record(self, name: str, endpoint: str, variant: str, count: int) -> None:
        found = self._recorders.get((name, endpoint, variant))
        if found is None:
            dims = {"EndpointName": endpoint, "VariantName": variant}
            key = MetricKey.of(NAMESPACE, name, dims)
            found = self._store.recorder(key, StandardUnit.COUNT.value)
            self._recorders[(name, endpoint, variant)] = found
        found.record(float(count))
