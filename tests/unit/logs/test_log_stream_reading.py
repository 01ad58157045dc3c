"""Reading stream files: lines, bisection on time, forwards and backwards in blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.logs.record import LineParser, Stamper, parse_stamp
from moorage.logs.stream_file import OpenStream, ends_with_newline, last_event

T0 = 1_717_000_000_000  # 2024-05-29


def write_events(path: Path, events: list[tuple[int, bytes]], tail: bytes = b"") -> None:
    stamper = Stamper()
    path.write_bytes(b"".join(stamper.line(ms, message) for ms, message in events) + tail)


def test_stamps_are_fixed_width_utc_and_parse_back() -> None:
    stamper = Stamper()
    assert stamper.stamp(T0 + 7) == b"2024-05-29T16:26:40.007Z"
    for ms in (0, T0, T0 + 999, T0 + 1000, 4_102_444_800_000):
        assert parse_stamp(stamper.stamp(ms)) == ms
    assert parse_stamp(b"2024-05-29T16:26:40.007") is None
    assert parse_stamp(b"2024-13-29T16:26:40.007Z") is None
    assert parse_stamp(b"2024-05-29 16:26:40.007Z") is None


def test_malformed_lines_are_not_events() -> None:
    parser = LineParser()
    assert parser.parse(b"no stamp here", 0) is None
    assert parser.parse(b"2024-05-29T16:26:40.007Zmissing space", 0) is None
    event = parser.parse(b"2024-05-29T16:26:40.007Z hello", 10)
    assert event is not None
    assert (event.start, event.end, event.timestamp, event.message) == (10, 41, T0 + 7, b"hello")
    # The cached second must not leak into a differently stamped line.
    same_second = parser.parse(b"2024-05-29T16:26:40.999Z again", 41)
    assert same_second is not None and same_second.timestamp == T0 + 999


def test_a_partly_written_last_line_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    write_events(path, [(T0, b"one"), (T0 + 1, b"two")], tail=b"2024-05-29T16:26:40.00")
    with OpenStream(path) as stream:
        assert [e.message for e in stream.forward(0)] == [b"one", b"two"]
        assert [e.message for e in stream.backward()] == [b"two", b"one"]
        assert stream.size == path.stat().st_size - len(b"2024-05-29T16:26:40.00")
    assert not ends_with_newline(path)
    last = last_event(path)
    assert last is not None and last.message == b"two"


@pytest.mark.parametrize("block", [16, 64, 1024 * 64])
def test_forward_and_backward_agree_across_block_sizes(tmp_path: Path, block: int) -> None:
    path = tmp_path / "s.log"
    events = [(T0 + i * 10, f"message {i} ".encode() * (i % 7 + 1)) for i in range(300)]
    write_events(path, events)
    with OpenStream(path, block=block) as stream:
        forwards = list(stream.forward(0))
        backwards = list(stream.backward())
        assert [(e.timestamp, e.message) for e in forwards] == events
        assert backwards == forwards[::-1]
        middle = forwards[100].start, forwards[200].start
        assert list(stream.forward(*middle)) == forwards[100:200]
        assert list(stream.backward(middle[1], middle[0])) == forwards[100:200][::-1]


def test_seek_time_finds_the_first_event_at_or_after_a_time(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    # Runs of equal timestamps, as a burst of lines read at once has.
    stamps = [T0 + (i // 3) * 100 for i in range(90)]
    write_events(path, [(ms, f"line {i}".encode()) for i, ms in enumerate(stamps)])
    with OpenStream(path) as stream:
        events = list(stream.forward(0))
        for target in (T0 - 1, T0, T0 + 1, T0 + 100, T0 + 150, T0 + 2900, T0 + 2901, T0 + 10**6):
            expected = next((e.start for e in events if e.timestamp >= target), stream.size)
            assert stream.seek_time(target) == expected, target


def test_seek_time_skips_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    stamper = Stamper()
    path.write_bytes(
        stamper.line(T0, b"a") + b"garbage without a stamp\n" + stamper.line(T0 + 10, b"b")
    )
    with OpenStream(path) as stream:
        assert [e.message for e in stream.forward(0)] == [b"a", b"b"]
        found = stream.seek_time(T0 + 5)
        assert next(stream.forward(found)).message == b"b"


def test_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    write_events(path, [(T0, b"one"), (T0, b"two")])
    with OpenStream(path) as stream:
        first = stream.first_event()
        assert first is not None
        assert stream.is_boundary(0) and stream.is_boundary(first.end)
        assert stream.is_boundary(stream.size)
        assert not stream.is_boundary(1)
        assert not stream.is_boundary(stream.size + 1)
        assert not stream.is_boundary(-1)
