"""GetLogEvents and FilterLogEvents over stream files: pages of events and their tokens.

Both answer pages of at most :data:`MAX_EVENTS` events and :data:`PAGE_BYTES`
(counted as CloudWatch counts them), and find their time range by bisection,
so a page costs about what it returns whatever the size of the files.

GetLogEvents reads one stream: without a token, the newest events of the
range (``startFromHead`` false, the default) read backwards from its end, or
the oldest ones; with a token, onwards from the token's position in its
direction (:mod:`moorage.logs.tokens`). ``startTime`` is inclusive and
``endTime`` exclusive, as AWS documents.

FilterLogEvents merges the chosen streams by (timestamp, stream name,
position), oldest first (or newest first with ``startFromHead`` false);
``startTime`` and ``endTime`` are both inclusive, as AWS documents. Its
token is the last event the page looked at, so each stream resumes after
it. A page stops after scanning :data:`SCAN_BYTES` of events even if it has
found few matches, and then carries a ``nextToken`` (AWS, too, may answer
an empty page with a token): a rare pattern over a large log costs each
call a bounded amount of work. Streams are reopened per block rather than
held open, so the number of streams costs no file descriptors.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from moorage.logs.filter_pattern import FilterPattern
from moorage.logs.layout import StreamFile
from moorage.logs.record import Event
from moorage.logs.stream_file import BLOCK, OpenStream
from moorage.logs.tokens import (
    BACKWARD,
    FORWARD,
    Position,
    decode,
    encode,
    invalid_token,
    parse_position,
)

MAX_EVENTS = 10_000
PAGE_BYTES = 1_048_576
SCAN_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class EventsPage:
    """A GetLogEvents answer: events oldest first, and both tokens."""

    events: tuple[Event, ...]
    forward_token: str
    backward_token: str


def _take(events: Iterator[Event], limit: int) -> list[Event]:
    taken: list[Event] = []
    size = 0
    for event in events:
        if taken and size + event.size > PAGE_BYTES:
            break
        taken.append(event)
        size += event.size
        if len(taken) >= limit:
            break
    return taken


def get_events(
    path: Path,
    *,
    start_time: int | None,
    end_time: int | None,
    token: str | None,
    start_from_head: bool,
    limit: int | None,
) -> EventsPage:
    """One GetLogEvents page of the stream file ``path``."""
    position = parse_position(token) if token else None
    wanted = min(limit or MAX_EVENTS, MAX_EVENTS)
    with OpenStream(path) as stream:
        if position is not None and not stream.is_boundary(position.offset):
            raise invalid_token()
        lo = stream.seek_time(start_time) if start_time is not None else 0
        hi = stream.seek_time(end_time, lo) if end_time is not None else stream.size
        forward = position.direction == FORWARD if position else start_from_head
        if forward:
            begin = max(position.offset, lo) if position else lo
            events = _take(stream.forward(begin, hi), wanted) if begin < hi else []
            here = position.offset if position else begin
        else:
            end = min(position.offset, hi) if position else hi
            events = _take(stream.backward(end, lo), wanted) if lo < end else []
            events.reverse()
            here = position.offset if position else end
    if events:
        return EventsPage(
            tuple(events),
            Position(FORWARD, events[-1].end).token(),
            Position(BACKWARD, events[0].start).token(),
        )
    # Nothing (new) in that direction: the caller's own token comes back.
    return EventsPage((), Position(FORWARD, here).token(), Position(BACKWARD, here).token())


# -- FilterLogEvents -------------------------------------------------------------------


@dataclass(frozen=True)
class FoundEvent:
    stream: str
    event: Event

    @property
    def event_id(self) -> str:
        """56 digits, unique and stable per event: time, stream, position."""
        digest = hashlib.blake2s(self.stream.encode(), digest_size=8).digest()
        stream_number = int.from_bytes(digest, "big") % 10**18
        return f"{self.event.timestamp:020d}{stream_number:018d}{self.event.start % 10**18:018d}"


@dataclass(frozen=True)
class FilterPage:
    events: tuple[FoundEvent, ...]
    next_token: str | None


@dataclass(frozen=True)
class FilterQuery:
    start_time: int | None
    end_time: int | None
    pattern: FilterPattern
    start_from_head: bool
    limit: int | None


@dataclass(frozen=True)
class _Cursor:
    """The last event a FilterLogEvents page looked at, in merge order."""

    forward: bool
    timestamp: int
    stream: str
    offset: int  # forwards: the end of its line; backwards: its start

    def token(self) -> str:
        return encode(
            FORWARD if self.forward else BACKWARD, self.timestamp, self.stream, self.offset
        )


def _cursor(token: str) -> _Cursor:
    direction, timestamp, stream, offset = decode(token, str, int, str, int)
    if direction not in (FORWARD, BACKWARD) or timestamp < 0 or offset < 0:
        raise invalid_token()
    return _Cursor(direction == FORWARD, timestamp, stream, offset)


class _Reader:
    """One stream's events in a byte range, read a block at a time (no file held open)."""

    def __init__(self, path: Path, size: int, start: int, stop: int, forward: bool) -> None:
        self.path = path
        self.size = size
        self.start = start
        self.stop = stop
        self.forward = forward
        self.buffered: list[Event] = []
        self.scanned = 0

    def next(self) -> Event | None:
        if not self.buffered:
            self._refill()
        return self.buffered.pop() if self.buffered else None

    def _refill(self) -> None:
        if self.start >= self.stop:
            return
        got: list[Event] = []
        taken = 0
        try:
            with OpenStream(self.path, size=self.size) as stream:
                events = (
                    stream.forward(self.start, self.stop)
                    if self.forward
                    else stream.backward(self.stop, self.start)
                )
                for event in events:
                    got.append(event)
                    taken += event.end - event.start
                    if taken >= BLOCK:
                        break
        except OSError:
            got = []  # removed meanwhile: nothing more to read
        if not got:
            self.start = self.stop
            return
        if self.forward:
            self.start = got[-1].end
        else:
            self.stop = got[-1].start
        self.scanned += taken
        got.reverse()  # pop() from the end returns them in reading order
        self.buffered = got


def filter_events(
    streams: Sequence[StreamFile],
    query: FilterQuery,
    token: str | None,
    *,
    scan_bytes: int = SCAN_BYTES,
) -> FilterPage:
    """One FilterLogEvents page over ``streams``, looking at about ``scan_bytes`` of events."""
    cursor = _cursor(token) if token else None
    forward = cursor.forward if cursor else query.start_from_head
    ordered = sorted(streams, key=lambda s: s.stream)
    readers = [_reader(s, query, cursor, forward) for s in ordered]
    heap: list[tuple[tuple[int, int, int], int, Event]] = []

    def push(index: int) -> None:
        reader = readers[index]
        if reader is None:
            return
        event = reader.next()
        if event is None:
            return
        key = (event.timestamp, index, event.start)
        if not forward:
            key = (-event.timestamp, -index, -event.start)
        heapq.heappush(heap, (key, index, event))

    for index in range(len(readers)):
        push(index)
    wanted = min(query.limit or MAX_EVENTS, MAX_EVENTS)
    found: list[FoundEvent] = []
    size = scanned = 0
    last: _Cursor | None = None
    while heap:
        if len(found) >= wanted or scanned >= scan_bytes:
            break
        _, index, event = heap[0]
        if query.pattern.matches(event.message):
            if found and size + event.size > PAGE_BYTES:
                break
            found.append(FoundEvent(ordered[index].stream, event))
            size += event.size
        heapq.heappop(heap)
        scanned += event.end - event.start
        last = _Cursor(
            forward, event.timestamp, ordered[index].stream, event.end if forward else event.start
        )
        push(index)
    next_token = last.token() if heap and last is not None else None
    return FilterPage(tuple(found), next_token)


def _reader(
    stream: StreamFile, query: FilterQuery, cursor: _Cursor | None, forward: bool
) -> _Reader | None:
    """A reader of ``stream``'s part of the page: its time range, after the cursor."""
    try:
        with OpenStream(stream.path) as opened:
            lo = opened.seek_time(query.start_time) if query.start_time is not None else 0
            hi = opened.size
            if query.end_time is not None:
                hi = opened.seek_time(query.end_time + 1, lo)
            if cursor is not None:
                lo, hi = _after_cursor(opened, stream.stream, cursor, lo, hi)
            return _Reader(stream.path, opened.size, lo, hi, forward)
    except OSError:
        return None  # removed meanwhile: nothing to read


def _after_cursor(
    opened: OpenStream, name: str, cursor: _Cursor, lo: int, hi: int
) -> tuple[int, int]:
    """The range of ``[lo, hi)`` still to read once the page resumes after ``cursor``."""
    if name == cursor.stream:
        if not opened.is_boundary(cursor.offset):
            raise invalid_token()
        if cursor.forward:
            return max(lo, cursor.offset), hi
        return lo, min(hi, cursor.offset)
    if cursor.forward:
        # A stream ordered before the cursor's has already given its events at
        # the cursor's time; one ordered after has not.
        at = cursor.timestamp + 1 if name < cursor.stream else cursor.timestamp
        return max(lo, opened.seek_time(at, lo, hi)), hi
    at = cursor.timestamp if name > cursor.stream else cursor.timestamp + 1
    return lo, min(hi, opened.seek_time(at, lo, hi))
