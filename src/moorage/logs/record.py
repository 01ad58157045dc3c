"""One log event as a line of a stream file: ``<UTC timestamp> <message>\\n``.

The timestamp is the time the line was read from the model server (its
ingestion time, as SageMaker's log agent records it), to the millisecond, in
a fixed-width ISO 8601 form so that the file stays readable with ``tail -f``::

    2024-06-10T12:00:00.123Z moorage model server listening on http://127.0.0.1:41523

A message never holds a newline (each line of output is one event) and the
timestamps of one file never decrease (:mod:`moorage.logs.collector` makes
sure), which lets readers find a time by bisection
(:mod:`moorage.logs.stream_file`).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

STAMP_BYTES = 24  # "2024-06-10T12:00:00.123Z"
PREFIX_BYTES = STAMP_BYTES + 1  # and one space
# CloudWatch counts each event as its UTF-8 message plus 26 bytes, and takes
# events of up to 256 KiB so counted (PutLogEvents' limit): longer output
# lines are split into events of this many bytes.
EVENT_OVERHEAD = 26
MAX_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD


@dataclass(frozen=True)
class Event:
    """An event of one stream file: where it is, when, and what it says."""

    start: int  # offset of its line
    end: int  # offset just past its newline
    timestamp: int  # ms since the epoch
    message: bytes

    @property
    def size(self) -> int:
        """Its size as CloudWatch counts it toward a page's 1 MB."""
        return len(self.message) + EVENT_OVERHEAD

    def text(self) -> str:
        return self.message.decode("utf-8", "replace")


class Stamper:
    """Formats millisecond timestamps, reusing the date part within a second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def stamp(self, ms: int) -> bytes:
        second, millis = divmod(ms, 1000)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        return b"%s.%03dZ" % (self._text, millis)

    def line(self, ms: int, message: bytes) -> bytes:
        return self.stamp(ms) + b" " + message + b"\n"


_DIGITS = frozenset(b"0123456789")
_SHAPE = b"dddd-dd-ddTdd:dd:dd.dddZ"


def parse_stamp(stamp: bytes) -> int | None:
    """Milliseconds since the epoch of a 24-byte stamp, or None if it is not one."""
    if len(stamp) != STAMP_BYTES:
        return None
    for expected, got in zip(_SHAPE, stamp, strict=True):
        if expected == ord("d"):
            if got not in _DIGITS:
                return None
        elif got != expected:
            return None
    try:
        parts = time.strptime(stamp[:19].decode("ascii"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return calendar.timegm(parts) * 1000 + int(stamp[20:23])


class LineParser:
    """Parses record lines, remembering the last second's value (lines come in runs)."""

    __slots__ = ("_second_ms", "_second_text")

    def __init__(self) -> None:
        self._second_text = b""
        self._second_ms = 0

    def parse(self, line: bytes, start: int) -> Event | None:
        """The event of ``line`` (without its newline) at offset ``start``; None if malformed."""
        if len(line) < PREFIX_BYTES or line[STAMP_BYTES] != 0x20:
            return None
        head = line[:19]
        millis = line[20:23]
        if head == self._second_text and line[19] == 0x2E and line[23] == 0x5A and millis.isdigit():
            timestamp = self._second_ms + int(millis)
        else:
            parsed = parse_stamp(line[:STAMP_BYTES])
            if parsed is None:
                return None
            self._second_text = head
            self._second_ms = parsed - parsed % 1000
            timestamp = parsed
        return Event(start, start + len(line) + 1, timestamp, line[PREFIX_BYTES:])
