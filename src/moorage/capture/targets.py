"""Capture counts per target: which endpoint, variant and destination records were lost for.

A *target* is where one captured pair goes: its endpoint, its variant and
its destination (``Destination.uri()``). The writer
(:mod:`moorage.capture.writer`) counts what it wrote and what it failed to
write per target, the server's capture process
(:mod:`moorage.capture.process`) adds the pairs it dropped and those a dead
writer process took with it, and the reporter
(:mod:`moorage.capture.reporting`) turns changes into CloudWatch metrics and
log lines. :class:`TargetCounts` is the snapshot they pass around;
:class:`TargetTally` the counters behind it (guarded by its owner's lock);
:class:`ChangeLog` logs a target's trouble once per change, not per record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# (endpoint, variant, destination URI)
TargetKey = tuple[str, str, str]

FAILED_METRIC = "DataCaptureRecordsFailed"
DROPPED_METRIC = "DataCaptureRecordsDropped"


@dataclass(frozen=True)
class TargetCounts:
    """Records of one target since the server started; ``last_error`` is the latest cause."""

    endpoint: str
    variant: str
    destination: str
    written: int = 0
    failed: int = 0
    dropped: int = 0
    last_error: str | None = None

    @property
    def key(self) -> TargetKey:
        return (self.endpoint, self.variant, self.destination)

    def to_json(self) -> list[Any]:
        """The compact form the writer process reports (``dropped`` is the server's)."""
        fields = (self.endpoint, self.variant, self.destination, self.written, self.failed)
        return [*fields, self.last_error]

    @classmethod
    def from_json(cls, item: Any) -> TargetCounts | None:
        """Read :meth:`to_json`'s form; None if it is not that."""
        if not isinstance(item, list) or len(item) != 6:
            return None
        endpoint, variant, destination, written, failed, error = item
        if not all(isinstance(v, str) for v in (endpoint, variant, destination)):
            return None
        if not isinstance(written, int) or not isinstance(failed, int):
            return None
        return cls(endpoint, variant, destination, written, failed, 0, _text(error))


class TargetTally:
    """Counters per target. Not thread-safe: the owner holds its own lock around calls."""

    def __init__(self) -> None:
        self._counts: dict[TargetKey, list[int]] = {}
        self._errors: dict[TargetKey, str] = {}

    def add(
        self,
        key: TargetKey,
        *,
        written: int = 0,
        failed: int = 0,
        dropped: int = 0,
        error: str | None = None,
    ) -> None:
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0, 0]
        counts[0] += written
        counts[1] += failed
        counts[2] += dropped
        if error is not None:
            self._errors[key] = error

    def merge(self, items: Iterable[TargetCounts]) -> None:
        for item in items:
            self.add(
                item.key,
                written=item.written,
                failed=item.failed,
                dropped=item.dropped,
                error=item.last_error,
            )

    def get(self, key: TargetKey) -> TargetCounts:
        written, failed, dropped = self._counts.get(key, (0, 0, 0))
        return TargetCounts(*key, written, failed, dropped, self._errors.get(key))

    def snapshot(self) -> tuple[TargetCounts, ...]:
        return tuple(self.get(key) for key in self._counts)

    def __bool__(self) -> bool:
        return bool(self._counts)


class ChangeLog:
    """Logs a target's failures and drops when they start or their cause changes.

    A destination that stays broken under steady traffic gives one line, not
    one per file or record; it is logged again when the cause changes, or
    when it fails again after having written (``INFO`` says it recovered).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._failing: dict[TargetKey, str] = {}
        self._dropping: set[TargetKey] = set()

    def failed(self, target: TargetCounts) -> None:
        """``target`` has failed records; ``last_error`` says why."""
        cause = target.last_error or "unknown error"
        if self._failing.get(target.key) == cause:
            return
        self._failing[target.key] = cause
        self._log.warning(
            "data capture for endpoint %s, variant %s: records could not be written to %s: %s "
            "(%d records lost so far; metric %s)",
            target.endpoint,
            target.variant,
            target.destination,
            cause,
            target.failed,
            FAILED_METRIC,
        )

    def written(self, key: TargetKey) -> None:
        """Records of ``key`` were written again."""
        if self._failing.pop(key, None) is not None:
            self._log.info("data capture for endpoint %s, variant %s: writing to %s again", *key)

    def dropped(self, target: TargetCounts) -> None:
        """Records of ``target`` were dropped (since the previous call)."""
        if target.key in self._dropping:
            return
        self._dropping.add(target.key)
        self._log.warning(
            "data capture for endpoint %s, variant %s: records for %s are being dropped: the "
            "capture queue is full (%d dropped so far; metric %s)",
            target.endpoint,
            target.variant,
            target.destination,
            target.dropped,
            DROPPED_METRIC,
        )

    def not_dropping(self, key: TargetKey) -> None:
        """No records of ``key`` were dropped since the previous call."""
        self._dropping.discard(key)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
