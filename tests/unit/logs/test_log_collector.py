"""The collector: real processes' output, stamped line by line into stream files."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.logs.collector import Attachment, LogCollector, split_message
from moorage.logs.record import MAX_MESSAGE_BYTES, Stamper
from moorage.logs.stream_file import OpenStream

T0 = 1_717_000_000_000


@pytest.fixture
def collector() -> Iterator[LogCollector]:
    made = LogCollector(partial_flush_s=0.2)
    yield made
    made.close(1.0)


def run(collector: LogCollector, path: Path, script: str) -> Attachment:
    """Run ``script`` with stdout and stderr on one pipe attached to ``path``; wait for it."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            stdout=write_end,
            stderr=subprocess.STDOUT,
        )
    finally:
        os.close(write_end)
    attachment = collector.attach(read_end, path)
    assert proc.wait(60) == 0
    assert attachment.closed.wait(30), "the pipe was not drained"
    return attachment


def events(path: Path) -> list[tuple[int, bytes]]:
    with OpenStream(path) as stream:
        return [(e.timestamp, e.message) for e in stream.forward(0)]


def test_stdout_and_stderr_keep_their_order_and_every_line_is_stamped(
    collector: LogCollector, tmp_path: Path
) -> None:
    path = tmp_path / "ep" / "AllTraffic.i-0123456789abcdef0.log"
    attachment = run(
        collector,
        path,
        """
        import sys
        for i in range(50):
            stream = sys.stdout if i % 2 else sys.stderr
            stream.write(f"line {i}\\n")
            stream.flush()
        sys.stdout.write("windows\\r\\n\\n\\nlast words without a newline")
        """,
    )
    found = events(path)
    assert [m for _, m in found] == [
        *(f"line {i}".encode() for i in range(50)),
        b"windows",
        b"last words without a newline",
    ]
    stamps = [t for t, _ in found]
    assert stamps == sorted(stamps)
    assert attachment.tail().endswith("last words without a newline")
    assert os.stat(path).st_mode & 0o077 == 0


def test_a_line_longer_than_an_event_is_cut_between_characters(
    collector: LogCollector, tmp_path: Path
) -> None:
    path = tmp_path / "ep" / "v.i-0123456789abcdef0.log"
    run(collector, path, 'import sys; sys.stdout.write("é" * 300000 + "\\nshort\\n")')
    found = [m for _, m in events(path)]
    assert len(found) == 4
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in found)
    assert b"".join(found[:3]).decode() == "é" * 300000
    assert found[3] == b"short"


def test_split_message_never_cuts_a_character() -> None:
    for text in ("a" * 10, "é" * 10, "a€" * 7, "😀" * 5):
        data = text.encode()
        pieces = split_message(data, 7)
        assert b"".join(pieces) == data
        for piece in pieces:
            piece.decode()  # raises if a character was cut
            assert 0 < len(piece) <= 7


def test_an_unfinished_line_is_written_once_it_has_waited(
    collector: LogCollector, tmp_path: Path
) -> None:
    path = tmp_path / "ep" / "v.i-0123456789abcdef0.log"
    read_end, write_end = os.pipe()
    attachment = collector.attach(read_end, path)
    try:
        os.write(write_end, b"prompt> ")
        wait_for_events(path, 1, attachment)
        assert [m for _, m in events(path)] == [b"prompt> "]
    finally:
        os.close(write_end)
    assert attachment.closed.wait(30)


def wait_for_events(path: Path, count: int, attachment: Attachment) -> None:
    for _ in range(1000):
        if path.exists() and len(events(path)) >= count:
            return
        attachment.closed.wait(0.01)
    raise AssertionError(f"{path} did not get {count} events")


def test_stamps_never_go_back_even_when_the_clock_does(tmp_path: Path) -> None:
    clock = itertools.chain([T0 + 5000, T0 + 1000, T0 + 3000], itertools.repeat(T0 + 9000))
    collector = LogCollector(now_ms=lambda: next(clock))
    path = tmp_path / "ep" / "v.i-0123456789abcdef0.log"
    read_end, write_end = os.pipe()
    attachment = collector.attach(read_end, path)
    try:
        # One line at a time, each on disk before the next: one stamp each.
        for count, text in enumerate((b"one\n", b"two\n", b"three\n"), start=1):
            os.write(write_end, text)
            wait_for_events(path, count, attachment)
    finally:
        os.close(write_end)
        collector.close(1.0)
    assert events(path) == [(T0 + 5000, b"one"), (T0 + 5000, b"two"), (T0 + 5000, b"three")]


def test_a_reopened_file_continues_after_its_last_stamp_and_cut_line(
    collector: LogCollector, tmp_path: Path
) -> None:
    path = tmp_path / "ep" / "v.i-0123456789abcdef0.log"
    path.parent.mkdir(parents=True)
    future = T0 + 10**12  # far ahead of the wall clock
    path.write_bytes(Stamper().line(future, b"before") + b"2024-05-29T16:26")
    run(collector, path, 'print("after")')
    assert events(path) == [(future, b"before"), (future, b"after")]


def test_copies_that_share_a_stream_share_its_file(collector: LogCollector, tmp_path: Path) -> None:
    path = tmp_path / "ep" / "v.i-0123456789abcdef0.log"
    run(collector, path, 'print("first copy")')
    run(collector, path, 'print("second copy")')
    assert [m for _, m in events(path)] == [b"first copy", b"second copy"]


def test_attaching_after_close_closes_the_pipe(tmp_path: Path) -> None:
    collector = LogCollector()
    collector.close(0.1)
    read_end, write_end = os.pipe()
    attachment = collector.attach(read_end, tmp_path / "x.log")
    assert attachment.closed.is_set()
    with pytest.raises(BrokenPipeError):
        os.write(write_end, b"nobody reads this\n")
    os.close(write_end)
