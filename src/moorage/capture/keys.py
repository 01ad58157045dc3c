"""Where in a destination a capture file goes.

SageMaker lays captured data out by endpoint, variant and UTC hour, one JSON
Lines file per batch::

    {destination}/{endpoint}/{variant}/yyyy/mm/dd/hh/{MM}-{SS}-{mmm}-{uuid}.jsonl

``MM``, ``SS`` and ``mmm`` are the minute, second and millisecond of the
file's first record (UTC), so that a listing in key order is a listing in
time order within an hour. Model Monitor reads a monitoring window by its
hour folders; the writer therefore never lets one file span two hours.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

SUFFIX = ".jsonl"


@dataclass(frozen=True, order=True)
class Hour:
    """A UTC hour: the ``yyyy/mm/dd/hh`` part of a key."""

    year: int
    month: int
    day: int
    hour: int

    @classmethod
    def of(cls, epoch_s: float) -> Hour:
        t = time.gmtime(int(epoch_s))
        return cls(t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour)

    @property
    def path(self) -> str:
        return f"{self.year:04d}/{self.month:02d}/{self.day:02d}/{self.hour:02d}"


def file_name(first_record_s: float, file_id: uuid.UUID | None = None) -> str:
    """``MM-SS-mmm-<uuid>.jsonl`` for a file whose first record is at ``first_record_s``."""
    seconds, millis = divmod(_millis(first_record_s), 1000)
    t = time.gmtime(seconds)
    return f"{t.tm_min:02d}-{t.tm_sec:02d}-{millis:03d}-{file_id or uuid.uuid4()}{SUFFIX}"


def object_key(
    endpoint: str, variant: str, first_record_s: float, file_id: uuid.UUID | None = None
) -> str:
    """The key of a file relative to its destination."""
    hour = Hour.of(_millis(first_record_s) // 1000)
    return f"{endpoint}/{variant}/{hour.path}/{file_name(first_record_s, file_id)}"


def _millis(epoch_s: float) -> int:
    # Rounded, not truncated: a float epoch can sit a hair below a whole millisecond.
    return round(epoch_s * 1000)
