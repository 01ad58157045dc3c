"""Reading one stream file: events forwards, backwards, and by time, in bounded memory.

A file is read in blocks of :data:`BLOCK` bytes, never whole: forwards from
an offset, backwards from an offset (to serve the newest events first), and
by bisection on time, since a file's timestamps never decrease
(:mod:`moorage.logs.record`). Offsets are byte offsets of line starts;
:class:`OpenStream` only reads up to the end of the last complete line when
it was opened, so a line the collector is appending at that moment is left
for the next read. A line that is not a record (a line cut short by a full
disk) is skipped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from moorage.logs.record import Event, LineParser

BLOCK = 64 * 1024
_SCAN = 4096


class OpenStream:
    """A stream file open for reading, up to its last complete line."""

    def __init__(self, path: Path, *, size: int | None = None, block: int = BLOCK) -> None:
        self.path = path
        self.block = block
        self._handle: BinaryIO | None = None
        # A size found by an earlier opening (a line boundary) is trusted as is.
        self._known_size = size
        self.size = 0

    def __enter__(self) -> OpenStream:
        self._handle = self.path.open("rb")
        try:
            if self._known_size is not None:
                self.size = self._known_size
                return self
            total = os.fstat(self._handle.fileno()).st_size
            self.size = self._complete(total)
        except BaseException:
            self._handle.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def handle(self) -> BinaryIO:
        assert self._handle is not None, "OpenStream used outside its with block"
        return self._handle

    def _read(self, offset: int, count: int) -> bytes:
        self.handle.seek(offset)
        return self.handle.read(count)

    def _complete(self, total: int) -> int:
        """The offset just past the last newline at or before ``total``."""
        end = total
        while end > 0:
            start = max(0, end - self.block)
            found = self._read(start, end - start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            end = start
        return 0

    def is_boundary(self, offset: int) -> bool:
        """True if ``offset`` starts a line (or is the end) of the readable part."""
        if offset == 0:
            return True
        if offset < 0 or offset > self.size:
            return False
        return self._read(offset - 1, 1) == b"\n"

    def line_start_at_or_after(self, offset: int, limit: int) -> int:
        """The first line start in ``[offset, limit]``; ``limit`` if there is none before it."""
        if offset <= 0:
            return 0
        position = offset - 1
        while position < limit:
            chunk = self._read(position, min(_SCAN, limit - position))
            if not chunk:
                return limit
            found = chunk.find(b"\n")
            if found >= 0:
                return min(limit, position + found + 1)
            position += len(chunk)
        return limit

    def line_at(self, offset: int) -> tuple[Event | None, int]:
        """The event of the line at ``offset`` (None if not a record) and the line's end."""
        parts: list[bytes] = []
        position = offset
        while position < self.size:
            chunk = self._read(position, min(_SCAN, self.size - position))
            if not chunk:
                break
            found = chunk.find(b"\n")
            if found >= 0:
                parts.append(chunk[:found])
                end = position + found + 1
                return LineParser().parse(b"".join(parts), offset), end
            parts.append(chunk)
            position += len(chunk)
        return None, self.size

    def seek_time(self, timestamp: int, lo: int = 0, hi: int | None = None) -> int:
        """The offset of the first event at or after ``timestamp`` in ``[lo, hi)``, else ``hi``.

        ``lo`` and ``hi`` must be line boundaries. Bisection: O(log n) line reads.
        """
        hi = self.size if hi is None else hi
        while lo < hi:
            mid = (lo + hi) // 2
            probe = self.line_start_at_or_after(mid, hi)
            if probe >= hi:
                probe = lo
            event, end = self.line_at(probe)
            if event is None or event.timestamp < timestamp:
                lo = end
            else:
                hi = probe
        return lo

    def forward(self, start: int, stop: int | None = None) -> Iterator[Event]:
        """Events whose lines lie in ``[start, stop)``, oldest first."""
        stop = self.size if stop is None else min(stop, self.size)
        parser = LineParser()
        buffer = b""
        buffer_start = start
        position = start
        while position < stop:
            chunk = self._read(position, min(self.block, stop - position))
            if not chunk:
                break
            position += len(chunk)
            buffer += chunk
            index = 0
            while True:
                newline = buffer.find(b"\n", index)
                if newline < 0:
                    break
                event = parser.parse(buffer[index:newline], buffer_start + index)
                if event is not None:
                    yield event
                index = newline + 1
            buffer = buffer[index:]
            buffer_start += index

    def backward(self, stop: int | None = None, start: int = 0) -> Iterator[Event]:
        """Events whose lines lie in ``[start, stop)``, newest first."""
        stop = self.size if stop is None else min(stop, self.size)
        parser = LineParser()
        buffer = b""  # the bytes [position, stop-so-far), ending with a newline
        position = stop
        while position > start:
            begin = max(start, position - self.block)
            buffer = self._read(begin, position - begin) + buffer
            position = begin
            while buffer:
                newline = buffer.rfind(b"\n", 0, len(buffer) - 1)
                if newline < 0:
                    if position > start:
                        break  # the line starts in an earlier block
                    line_start = 0
                else:
                    line_start = newline + 1
                event = parser.parse(buffer[line_start:-1], position + line_start)
                if event is not None:
                    yield event
                buffer = buffer[:line_start]

    def first_event(self) -> Event | None:
        return next(self.forward(0), None)

    def last_event(self) -> Event | None:
        return next(self.backward(), None)


def last_event(path: Path) -> Event | None:
    """The last complete event of ``path`` (None if it has none or cannot be read)."""
    with contextlib.suppress(OSError), OpenStream(path, block=_SCAN) as stream:
        return stream.last_event()
    return None


def ends_with_newline(path: Path) -> bool:
    """True if ``path`` is empty, missing, or its last byte is a newline."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return True
            handle.seek(size - 1)
            return handle.read(1) == b"\n"
    except OSError:
        return True
