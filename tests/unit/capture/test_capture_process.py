"""The capture writer process: hand-over, flush, stop, and a worker or server that dies.

Every test runs the real worker (``python -m moorage.capture.worker``)
writing to a real local destination, forwarded from a real event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from moorage.capture import CaptureConfig, read_capture
from moorage.capture.process import CaptureProcess
from moorage.clock import FakeClock

START = 1_795_000_000.25


def config(root: Path) -> CaptureConfig:
    return CaptureConfig.of(
        f"file://{root}",
        sampling_percentage=100,
        capture_input=True,
        capture_output=True,
        csv_content_types=["text/csv"],
        json_content_types=["application/json"],
    )


def offer(writer: CaptureProcess, capture: CaptureConfig, n: int, variant: str = "A") -> bool:
    return writer.offer(
        capture,
        "ep",
        variant,
        f"{n},1".encode(),
        "text/csv",
        b'{"p":1}',
        "application/json",
        str(n),
    )


def records(root: Path) -> list[str]:
    return sorted(str(r.inference_id) for r in read_capture(f"file://{root}"))


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))  # type: ignore[arg-type]


async def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    # Dead once it is a zombie (its parent, the CaptureProcess, has not reaped it).
    await until(lambda: _zombie(pid))


def test_close_writes_every_accepted_pair(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60)
        writer.start()
        capture = config(tmp_path)
        for n in range(300):
            assert offer(writer, capture, n, variant="A" if n % 2 else "B")
            if n % 50 == 0:
                await asyncio.sleep(0)
        assert await writer.aclose(30)
        stats = writer.stats
        assert (stats.accepted, stats.written, stats.failed, stats.pending) == (300, 300, 0, 0)
        assert stats.files_written == 2
        assert writer.worker_pid is None

    run(test)
    assert records(tmp_path) == sorted(str(n) for n in range(300))
    first = next(iter(read_capture(f"file://{tmp_path}")))
    assert first.inference_time.startswith("2026-")  # the offering clock's time


def test_flush_writes_before_close_and_reports_counts(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60)
        writer.start()
        capture = config(tmp_path)
        for n in range(5):
            offer(writer, capture, n)
        assert await writer.aflush(30)
        assert writer.stats.written == 5
        assert len(records(tmp_path)) == 5
        assert await writer.aclose(30)

    run(test)


def test_no_worker_runs_until_there_is_something_to_write(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60)
        writer.start()
        await asyncio.sleep(0.2)
        assert writer.worker_pid is None
        assert await writer.aflush(5)  # nothing to write: no worker for it either
        assert writer.worker_pid is None
        offer(writer, config(tmp_path), 1)
        await until(lambda: writer.worker_pid is not None)
        assert await writer.aclose(30)

    run(test)
    assert records(tmp_path) == ["1"]


def test_flushes_asked_while_the_pipe_is_full_are_all_answered(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60)
        writer.start()
        capture = config(tmp_path)
        big = b"x" * (3 * 1024 * 1024)  # many times a pipe's buffer: the frame waits
        offer(writer, capture, 1)
        assert writer.offer(capture, "ep", "A", big, "text/plain", b"1", "text/plain", "big")
        first = asyncio.ensure_future(writer.aflush(30))
        await asyncio.sleep(0)  # its frame is being written; the second flush must wait
        assert await asyncio.gather(first, writer.aflush(30)) == [True, True]
        assert writer.stats.written == 2
        assert await writer.aclose(30)

    run(test)
    assert records(tmp_path) == ["1", "big"]


def test_pairs_are_handed_over_on_the_interval_and_the_worker_flushes_on_its_own(
    tmp_path: Path,
) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=0.2, forward_interval_s=0.05)
        writer.start()
        offer(writer, config(tmp_path), 1)
        await until(lambda: writer.stats.written == 1)
        assert records(tmp_path) == ["1"]
        assert await writer.aclose(30)

    run(test)


def test_offers_from_another_thread_are_forwarded_by_the_loop(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=0.2)
        writer.start()
        capture = config(tmp_path)
        await asyncio.to_thread(lambda: [offer(writer, capture, n) for n in range(20)])
        await until(lambda: writer.stats.written == 20)
        assert await writer.aclose(30)

    run(test)
    assert len(records(tmp_path)) == 20


def test_a_dead_worker_is_replaced_and_nothing_handed_over_later_is_lost(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60, restart_delays_s=(0.1,))
        writer.start()
        capture = config(tmp_path)
        for n in range(10):
            offer(writer, capture, n)
        assert await writer.aflush(30)
        first = writer.worker_pid
        assert first is not None
        await kill(first)
        # Noticed (its output ended). Until then a write can still land in the
        # pipe of a dying worker, and is counted as lost with it.
        await until(lambda: writer._worker is None)
        for n in range(10, 15):
            offer(writer, capture, n)
        assert await writer.aclose(30)
        stats = writer.stats
        assert (stats.written, stats.failed, stats.pending) == (15, 0, 0)

    run(test)
    assert records(tmp_path) == sorted(str(n) for n in range(15))


def test_records_a_killed_worker_held_are_counted_as_failed(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60, restart_delays_s=(0.1,))
        writer.start()
        capture = config(tmp_path)
        for n in range(7):
            offer(writer, capture, n)
        # Handed over (every 50 ms), not yet written (the worker flushes every 60 s).
        await until(lambda: writer._worker is not None and writer._worker.sent == 7)
        pid = writer.worker_pid
        assert pid is not None
        await kill(pid)
        await until(lambda: writer.stats.failed == 7)  # noticed without any write
        offer(writer, capture, 7)
        assert await writer.aclose(30)
        stats = writer.stats
        assert (stats.accepted, stats.written, stats.failed, stats.pending) == (8, 1, 7, 0)
        assert stats.last_error is not None and "7 records lost" in stats.last_error

    run(test)
    assert records(tmp_path) == ["7"]


def test_the_worker_ignores_ctrl_c_and_writes_everything_on_close(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), flush_interval_s=60)
        writer.start()
        capture = config(tmp_path)
        offer(writer, capture, 1)
        await until(lambda: writer.worker_pid is not None)
        pid = writer.worker_pid
        assert pid is not None
        assert os.getpgid(pid) == pid  # not in the group a terminal's Ctrl-C reaches
        await until(lambda: ignores(pid, signal.SIGINT) and ignores(pid, signal.SIGTERM))
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        offer(writer, capture, 2)
        assert await writer.aclose(30)

    run(test)
    assert records(tmp_path) == ["1", "2"]


def test_a_full_queue_drops_and_counts_and_close_writes_what_was_accepted(tmp_path: Path) -> None:
    async def test() -> None:
        writer = CaptureProcess(FakeClock(START), max_queue=3)  # not started yet
        capture = config(tmp_path)
        assert [offer(writer, capture, n) for n in range(5)] == [True, True, True, False, False]
        assert writer.stats.dropped == 2 and writer.stats.accepted == 3
        assert await writer.aclose(30)  # starts the worker for what was accepted
        assert writer.stats.written == 3
        assert not offer(writer, capture, 9)  # closed

    run(test)
    assert records(tmp_path) == ["0", "1", "2"]


SERVER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from moorage.capture import CaptureConfig
    from moorage.capture.process import CaptureProcess
    from moorage.clock import SystemClock

    async def main():
        capture = CaptureConfig.of(
            sys.argv[1], sampling_percentage=100, capture_input=True, capture_output=True,
            csv_content_types=["text/csv"], json_content_types=[],
        )
        writer = CaptureProcess(SystemClock(), flush_interval_s=60)
        writer.start()
        for n in range(50):
            writer.offer(capture, "ep", "A", b"1", "text/csv", b"2", "text/csv", str(n))
        while writer._worker is None or writer._worker.sent < 50:
            await asyncio.sleep(0.01)
        print(writer.worker_pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


def test_a_killed_server_still_gets_what_it_handed_over_written(tmp_path: Path) -> None:
    server = subprocess.run(
        [sys.executable, "-c", SERVER, f"file://{tmp_path}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert server.returncode == -signal.SIGKILL, server.stderr
    worker = int(server.stdout.strip())
    # The worker sees its input end and writes the 50 records before exiting.
    wait_for(lambda: _zombie(worker), timeout_s=30)
    assert records(tmp_path) == sorted(str(n) for n in range(50))


def ignores(pid: int, sig: int) -> bool:
    """Whether process ``pid`` ignores signal ``sig`` (its SigIgn mask)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def _zombie(pid: int) -> bool:
    """Whether process ``pid`` has exited (gone, or a zombie not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] == "Z"
    except OSError:
        return True


def test_offer_never_raises(tmp_path: Path) -> None:
    class Unmeasurable(bytes):
        def __len__(self) -> int:
            raise RuntimeError("no length")

    writer = CaptureProcess(FakeClock(START))
    capture = config(tmp_path)
    assert not writer.offer(capture, "ep", "A", Unmeasurable(b"x"), None, b"", None)
    assert writer.stats.dropped == 1


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        CaptureProcess(FakeClock(START), flush_interval_s=0)
    with pytest.raises(ValueError):
        CaptureProcess(FakeClock(START), max_queue=0)
