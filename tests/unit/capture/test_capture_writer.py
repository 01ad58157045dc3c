"""The capture writer: queueing, dropping, batching, flushing, counting.

These run against real local destinations (``tmp_path``); most never start
the writer thread, so that flush() and close() write in the test's thread
and every count is deterministic.
"""

from __future__ import annotations

import asyncio
import calendar
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from moorage.capture import CaptureConfig, CaptureWriter, Encoding, read_capture
from moorage.clock import FakeClock

START = calendar.timegm((2026, 11, 23, 10, 58, 30, 0, 0, 0)) + 0.25


def config(
    root: Path,
    *,
    sampling_percentage: int = 100,
    capture_input: bool = True,
    capture_output: bool = True,
) -> CaptureConfig:
    return CaptureConfig.of(
        f"file://{root}",
        sampling_percentage=sampling_percentage,
        capture_input=capture_input,
        capture_output=capture_output,
        csv_content_types=["text/csv"],
        json_content_types=["application/json"],
    )


def offer(
    writer: CaptureWriter,
    capture: CaptureConfig,
    *,
    endpoint: str = "ep",
    variant: str = "AllTraffic",
    body: bytes = b"1,2,3",
    inference_id: str | None = None,
) -> bool:
    return writer.offer(
        capture, endpoint, variant, body, "text/csv", b'{"p":0.5}', "application/json", inference_id
    )


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_close_writes_every_accepted_pair_one_file_per_variant(tmp_path: Path) -> None:
    clock = FakeClock(START)
    writer = CaptureWriter(clock)
    capture = config(tmp_path)
    for i in range(3):
        assert offer(writer, capture, body=f"{i},0".encode(), inference_id=f"id-{i}")
        clock.advance(0.5)
    assert offer(writer, capture, variant="Canary")
    assert offer(writer, capture, endpoint="other")
    assert writer.stats.pending == 5 and writer.stats.written == 0

    assert writer.close()

    stats = writer.stats
    assert (stats.accepted, stats.written, stats.failed, stats.pending) == (5, 5, 0, 0)
    assert (stats.dropped, stats.files_written, stats.last_error) == (0, 3, None)
    written = files(tmp_path)
    assert len(written) == 3
    assert [name.split("/")[:6] for name in written] == [
        ["ep", "AllTraffic", "2026", "11", "23", "10"],
        ["ep", "Canary", "2026", "11", "23", "10"],
        ["other", "AllTraffic", "2026", "11", "23", "10"],
    ]
    # The file is named after its first record's time.
    assert written[0].split("/")[6].startswith("58-30-250-")
    records = list(read_capture(f"file://{tmp_path / 'ep' / 'AllTraffic'}"))
    assert [r.inference_id for r in records] == ["id-0", "id-1", "id-2"]
    assert [r.endpoint_input.data for r in records if r.endpoint_input] == ["0,0", "1,0", "2,0"]
    assert {r.inference_time for r in records} == {"2026-11-23T10:58:30Z", "2026-11-23T10:58:31Z"}
    first = records[0]
    assert first.endpoint_output is not None
    assert (first.endpoint_output.encoding, first.endpoint_output.data) == (
        Encoding.JSON,
        '{"p":0.5}',
    )
    assert len({r.event_id for r in records}) == 3


def test_only_the_configured_sides_are_written(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START))
    offer(writer, config(tmp_path / "in", capture_output=False))
    offer(writer, config(tmp_path / "out", capture_input=False))
    writer.close()
    (only_input,) = read_capture(str(tmp_path / "in"))
    (only_output,) = read_capture(str(tmp_path / "out"))
    assert only_input.endpoint_input is not None and only_input.endpoint_output is None
    assert only_output.endpoint_input is None and only_output.endpoint_output is not None


def test_a_disabled_config_captures_nothing(tmp_path: Path) -> None:
    disabled = CaptureConfig.of(f"file://{tmp_path}", enabled=False)
    writer = CaptureWriter(FakeClock(START))
    assert not offer(writer, disabled)
    writer.close()
    assert (writer.stats.accepted, writer.stats.dropped) == (0, 0)
    assert files(tmp_path) == []


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START), max_queue=3)
    capture = config(tmp_path)
    assert [offer(writer, capture) for _ in range(5)] == [True, True, True, False, False]
    assert (writer.stats.accepted, writer.stats.dropped) == (3, 2)
    assert writer.flush()
    # A flush empties the queue: there is room again.
    assert offer(writer, capture)
    writer.close()
    stats = writer.stats
    assert (stats.accepted, stats.dropped, stats.written, stats.pending) == (4, 2, 4, 0)


def test_the_queue_is_bounded_in_bytes_too(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START), max_queue_bytes=40)
    capture = config(tmp_path)
    # Each pair holds 9 + 9 bytes.
    assert offer(writer, capture, body=b"123456789")
    assert offer(writer, capture, body=b"123456789")
    assert not offer(writer, capture, body=b"123456789")
    assert writer.stats.dropped == 1
    writer.close()
    assert writer.stats.written == 2


def test_a_closed_writer_refuses_pairs(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START))
    writer.close()
    assert not offer(writer, config(tmp_path))
    assert writer.stats.dropped == 1 and writer.stats.accepted == 0
    assert files(tmp_path) == []


def test_a_file_never_spans_two_hours(tmp_path: Path) -> None:
    clock = FakeClock(START)  # 10:58:30.250
    writer = CaptureWriter(clock)
    capture = config(tmp_path)
    offer(writer, capture)
    clock.advance(120)  # 11:00:30.250
    offer(writer, capture)
    writer.close()
    assert [name.rsplit("/", 1)[0] for name in files(tmp_path)] == [
        "ep/AllTraffic/2026/11/23/10",
        "ep/AllTraffic/2026/11/23/11",
    ]
    assert files(tmp_path)[1].rsplit("/", 1)[1].startswith("00-30-250-")


def test_write_failures_are_retried_then_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    writer = CaptureWriter(FakeClock(START), retry_delays_s=(0.0, 0.0))
    offer(writer, config(blocker / "capture"))
    offer(writer, config(blocker / "capture"))
    offer(writer, config(tmp_path / "good"))
    assert writer.close()
    stats = writer.stats
    assert (stats.accepted, stats.written, stats.failed, stats.pending) == (3, 1, 2, 0)
    assert stats.last_error is not None
    assert "after 3 attempts" in stats.last_error
    assert str(blocker / "capture" / "ep" / "AllTraffic") in stats.last_error
    # The failure did not stop the other destination's file.
    assert len(list(read_capture(str(tmp_path / "good")))) == 1


def test_offer_never_raises(tmp_path: Path) -> None:
    class Unmeasurable(bytes):
        def __len__(self) -> int:
            raise RuntimeError("no length")

    writer = CaptureWriter(FakeClock(START))
    assert not offer(writer, config(tmp_path), body=Unmeasurable(b"x"))
    assert writer.stats.dropped == 1


def test_no_partial_files_are_left_behind(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START))
    for _ in range(10):
        offer(writer, config(tmp_path))
    writer.close()
    assert all(name.endswith(".jsonl") for name in files(tmp_path))
    assert not [p for p in tmp_path.rglob(".*")]


def test_the_thread_flushes_on_the_interval(tmp_path: Path) -> None:
    with CaptureWriter(FakeClock(START), flush_interval_s=0.05) as writer:
        offer(writer, config(tmp_path))
        wait_for(lambda: writer.stats.written == 1)
        offer(writer, config(tmp_path))
        wait_for(lambda: writer.stats.written == 2)
    assert writer.stats.files_written == 2


def test_the_thread_flushes_a_large_batch_early(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START), flush_interval_s=60, batch_records=4)
    writer.start()
    for _ in range(3):
        offer(writer, config(tmp_path))
    time.sleep(0.1)
    assert writer.stats.written == 0
    offer(writer, config(tmp_path))
    wait_for(lambda: writer.stats.written == 4)
    assert writer.close()


def test_offers_from_the_event_loop_and_async_close(tmp_path: Path) -> None:
    async def serve() -> CaptureWriter:
        writer = CaptureWriter(FakeClock(START), flush_interval_s=60)
        writer.start()
        for i in range(100):
            offer(writer, config(tmp_path), body=str(i).encode())
            await asyncio.sleep(0)
        assert await writer.aclose()
        return writer

    writer = asyncio.run(serve())
    assert (writer.stats.written, writer.stats.files_written) == (100, 1)
    data = [r.endpoint_input.data for r in read_capture(str(tmp_path)) if r.endpoint_input]
    assert data == [str(i) for i in range(100)]


def test_sampling_uses_the_injected_rng(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START), rng=random.Random(3))
    reference = random.Random(3)
    capture = config(tmp_path, sampling_percentage=50)
    decisions = [writer.sampled(capture) for _ in range(50)]
    assert decisions == [reference.random() * 100 < 50 for _ in range(50)]
    assert writer.sampled(config(tmp_path, sampling_percentage=100))


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        CaptureWriter(FakeClock(), flush_interval_s=0)
    with pytest.raises(ValueError):
        CaptureWriter(FakeClock(), max_queue=0)


def test_a_key_cannot_leave_a_local_destination(tmp_path: Path) -> None:
    writer = CaptureWriter(FakeClock(START), retry_delays_s=())
    offer(writer, config(tmp_path / "root"), endpoint="..", variant="..")
    writer.close()
    assert writer.stats.failed == 1
    assert "leaves the destination directory" in (writer.stats.last_error or "")
    assert files(tmp_path) == []
