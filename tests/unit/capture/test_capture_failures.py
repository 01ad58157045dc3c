"""Capture records lost to a destination that cannot be written: counted per target, reported.

The writer writes to a real local destination that cannot be created (its
parent is a regular file, which stops root too); the process tests run the
real writer process; the reporter writes into a real in-memory metric store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from moorage.capture import CaptureConfig, CaptureWriter
from moorage.capture.process import CaptureProcess
from moorage.capture.reporting import CaptureReporter
from moorage.capture.targets import TargetCounts
from moorage.clock import FakeClock
from moorage.monitoring import MetricKey, MetricStore
from moorage.monitoring.capture_metrics import NAMESPACE, CaptureMetrics

START = 1_795_000_000.25


def config(destination: Path) -> CaptureConfig:
    return CaptureConfig.of(
        f"file://{destination}",
        sampling_percentage=100,
        capture_input=True,
        capture_output=True,
        csv_content_types=["text/csv"],
        json_content_types=[],
    )


def blocked(tmp_path: Path) -> Path:
    """A destination that cannot be created: its parent is a regular file."""
    (tmp_path / "blocker").write_text("not a directory")
    return tmp_path / "blocker" / "capture"


def offer(writer: CaptureWriter | CaptureProcess, capture: CaptureConfig, variant: str) -> bool:
    return writer.offer(capture, "ep", variant, b"1,2", "text/csv", b"3", "text/csv")


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_failures_are_counted_per_target_and_logged_once_per_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = config(blocked(tmp_path))
    good = config(tmp_path / "good")
    caplog.set_level(logging.INFO, logger="moorage.capture")
    writer = CaptureWriter(FakeClock(START), flush_interval_s=60, retry_delays_s=())
    for _ in range(3):  # three flushes, each failing for the same cause
        offer(writer, bad, "A")
        offer(writer, bad, "A")
        offer(writer, good, "B")
        writer.flush()
    writer.close()
    targets = {t.key: t for t in writer.stats.targets}
    failing = targets[("ep", "A", f"file://{tmp_path}/blocker/capture")]
    assert (failing.written, failing.failed) == (0, 6)
    assert failing.last_error == "Not a directory"
    assert (targets[("ep", "B", f"file://{tmp_path}/good")].written) == 3
    lines = messages(caplog)
    assert lines == [
        f"data capture for endpoint ep, variant A: records could not be written to "
        f"file://{tmp_path}/blocker/capture: Not a directory (2 records lost so far; "
        "metric DataCaptureRecordsFailed)"
    ]


def test_a_destination_that_recovers_is_logged_again_when_it_fails_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    capture = config(blocked(tmp_path))
    caplog.set_level(logging.INFO, logger="moorage.capture")
    writer = CaptureWriter(FakeClock(START), flush_interval_s=60, retry_delays_s=())
    offer(writer, capture, "A")
    writer.flush()
    blocker.unlink()  # now it can be created
    offer(writer, capture, "A")
    writer.flush()
    shutil.rmtree(blocker / "capture")
    (blocker / "capture").write_text("a file where the destination was")
    offer(writer, capture, "A")
    writer.flush()
    writer.close()
    assert len(messages(caplog)) == 2
    assert messages(caplog, logging.INFO) == [
        f"data capture for endpoint ep, variant A: writing to file://{blocker}/capture again"
    ]


def test_the_reporter_records_new_losses_as_metrics_and_logs_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(START)
    store = MetricStore(clock)
    reporter = CaptureReporter(CaptureMetrics(store))
    caplog.set_level(logging.INFO, logger="moorage.capture")

    def state(failed: int, dropped: int, written: int = 0) -> list[TargetCounts]:
        return [TargetCounts("ep", "A", "s3://b/c", written, failed, dropped, "S3 answered 500")]

    reporter.update(state(failed=4, dropped=0))
    clock.advance(60)
    reporter.update(state(failed=4, dropped=0))  # nothing new: no datapoint, no line
    reporter.update(state(failed=9, dropped=2))
    reporter.update(state(failed=9, dropped=5))  # still dropping: no second line
    dims = {"EndpointName": "ep", "VariantName": "A"}

    def sums(name: str) -> list[float]:
        key = MetricKey.of(NAMESPACE, name, dims)
        points = store.get_statistics(key, START - 60, START + 600, 60, ["Sum"])
        return [p.values["Sum"] for p in points]

    assert sums("DataCaptureRecordsFailed") == [4.0, 5.0]
    assert sums("DataCaptureRecordsDropped") == [5.0]
    lines = messages(caplog)
    assert len(lines) == 2
    assert "records could not be written to s3://b/c: S3 answered 500" in lines[0]
    assert "records for s3://b/c are being dropped: the capture queue is full" in lines[1]


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))  # type: ignore[arg-type]


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_the_process_reports_its_writer_failures_and_its_drops_per_target(
    tmp_path: Path,
) -> None:
    reported: list[tuple[TargetCounts, ...]] = []

    async def test() -> None:
        writer = CaptureProcess(
            FakeClock(START), flush_interval_s=0.2, max_queue=5, on_counts=reported.append
        )
        writer.start()
        bad = config(blocked(tmp_path))
        # Five queued at once fill the queue: the sixth and seventh are dropped.
        assert [offer(writer, bad, "A") for _ in range(7)] == [True] * 5 + [False] * 2
        await until(lambda: any(t.failed == 5 for ts in reported for t in ts))
        await until(lambda: any(t.dropped == 2 for ts in reported for t in ts))
        assert await writer.aclose(30)

    run(test)
    (last,) = reported[-1]
    assert last.key == ("ep", "A", f"file://{tmp_path}/blocker/capture")
    assert (last.written, last.failed, last.dropped) == (0, 5, 2)
    assert last.last_error == "Not a directory"


def test_records_a_killed_worker_held_are_reported_for_their_targets(tmp_path: Path) -> None:
    reported: list[tuple[TargetCounts, ...]] = []

    async def test() -> None:
        writer = CaptureProcess(
            FakeClock(START),
            flush_interval_s=60,
            restart_delays_s=(0.1,),
            on_counts=reported.append,
        )
        writer.start()
        capture = config(tmp_path / "out")
        for variant in ("A", "A", "A", "B"):
            offer(writer, capture, variant)
        # Handed over (every 50 ms), not yet written (the worker flushes every 60 s).
        await until(lambda: writer._worker is not None and writer._worker.sent == 4)
        pid = writer.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: writer.stats.failed == 4)
        assert await writer.aclose(30)

    run(test)
    last = {t.variant: t for t in reported[-1]}
    assert (last["A"].failed, last["B"].failed) == (3, 1)
    error = last["A"].last_error
    assert error is not None and "the capture writer process exited" in error
