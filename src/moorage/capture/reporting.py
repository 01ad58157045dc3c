"""Reporting captured records that were lost: metrics per change, and a log line per change.

The capture process (:mod:`moorage.capture.process`) calls a
:class:`CaptureReporter` with its per-target totals
(:class:`~moorage.capture.targets.TargetCounts`) after every report of its
writer process and after drops. The reporter works out what changed since
the previous call and

- records the newly failed and newly dropped records as datapoints of the
  metrics ``DataCaptureRecordsFailed`` and ``DataCaptureRecordsDropped``
  (through a :class:`CaptureMetricSink`; the server's is
  :class:`moorage.monitoring.capture_metrics.CaptureMetrics`), so that users
  can graph them and alarm on them like any CloudWatch metric;
- logs one line when a target starts failing or its cause changes, and one
  when it starts dropping (:class:`~moorage.capture.targets.ChangeLog`),
  naming the endpoint, the variant, the destination and the cause.

Totals only grow, so a delta is never negative; a target seen for the first
time counts from zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from moorage.capture.targets import ChangeLog, TargetCounts, TargetKey

log = logging.getLogger(__name__)


class CaptureMetricSink(Protocol):
    def records_failed(self, endpoint: str, variant: str, count: int) -> None:
        """``count`` more records of the variant could not be written."""
        ...

    def records_dropped(self, endpoint: str, variant: str, count: int) -> None:
        """``count`` more records of the variant were dropped before being written."""
        ...


class CaptureReporter:
    """Turns per-target totals into metric datapoints and log lines (called on the loop)."""

    def __init__(
        self, sink: CaptureMetricSink | None = None, logger: logging.Logger | None = None
    ) -> None:
        self._sink = sink
        self._changes = ChangeLog(logger or log)
        self._seen: dict[TargetKey, TargetCounts] = {}

    def __call__(self, targets: Iterable[TargetCounts]) -> None:
        self.update(targets)

    def update(self, targets: Iterable[TargetCounts]) -> None:
        for target in targets:
            key = target.key
            before = self._seen.get(key)
            self._seen[key] = target
            failed = target.failed - (before.failed if before else 0)
            dropped = target.dropped - (before.dropped if before else 0)
            written = target.written - (before.written if before else 0)
            if failed > 0:
                if self._sink is not None:
                    self._sink.records_failed(target.endpoint, target.variant, failed)
                self._changes.failed(target)
            elif written > 0:
                self._changes.written(key)
            if dropped > 0:
                if self._sink is not None:
                    self._sink.records_dropped(target.endpoint, target.variant, dropped)
                self._changes.dropped(target)
            else:
                self._changes.not_dropping(key)
