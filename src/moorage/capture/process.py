"""Data capture written by a separate process, so that the server's interpreter only queues.

:class:`CaptureProcess` offers the request path what
:class:`~moorage.capture.writer.CaptureWriter` offers (:meth:`~CaptureProcess.sampled`,
a non-blocking :meth:`~CaptureProcess.offer` into a queue bounded by records
and bytes, drops counted) but encodes and writes nothing itself. From the
server's event loop, every ``forward_interval_s`` (sooner at
``forward_records``) it pickles the queued pairs into one frame and writes it,
without blocking, to the stdin pipe of ``python -m moorage.capture.worker``
(:mod:`moorage.capture.worker`), which runs a ``CaptureWriter`` at a lower
priority and prints its counts back; the loop reads them too. No thread of
the server takes part, so capture never contends for the server's
interpreter lock, and encoding and file I/O run on another core when one is
free. While the pipe is full, pairs wait in the queue (then are dropped and
counted): a slow destination never blocks the loop.

The worker is started the first time there is something to hand over. A
worker that dies is started again (after each of ``restart_delays_s``,
then at the last delay) and the frame it did not take is sent to the new
one; what the dead worker had taken but not written is counted as failed,
and ``last_error`` says so. :meth:`~CaptureProcess.aclose` hands over
everything queued, closes the pipe and waits for the worker to write it all
and exit: a clean stop loses no accepted record. If the server itself is
killed, the worker sees its input end and still writes what it had.

Counts are also kept per target (endpoint, variant, destination;
:mod:`moorage.capture.targets`): what each worker reports, the pairs dropped
here, and what a dead worker took with it (each frame remembers how many
pairs of each target it carried). ``on_counts`` is called on the loop with
the totals after every report and, at most once a second, after drops; the
server's :class:`~moorage.capture.reporting.CaptureReporter` turns them into
metrics and log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import pickle
import random
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from moorage.capture.config import CaptureConfig
from moorage.capture.sampling import Sampler
from moorage.capture.targets import TargetCounts, TargetKey, TargetTally
from moorage.capture.worker import FRAME_HEADER
from moorage.capture.writer import (
    DEFAULT_FLUSH_INTERVAL_S,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_QUEUE_BYTES,
    CaptureStats,
    Pair,
)
from moorage.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_FORWARD_INTERVAL_S = 0.05
DEFAULT_FORWARD_RECORDS = 1_000
DEFAULT_RESTART_DELAYS_S = (0.2, 1.0, 5.0)
DEFAULT_NICE = 10
# How long aclose() waits for a worker that has its input closed but does not exit.
_EXIT_GRACE_S = 5.0
# Drops are reported this long after the first one, together with the others.
_DROP_NOTE_DELAY_S = 1.0

CountsObserver = Callable[[tuple[TargetCounts, ...]], None]
# A Pair's config, endpoint and variant (moorage.capture.writer.Pair).
_CONFIG, _ENDPOINT, _VARIANT = itemgetter(0), itemgetter(1), itemgetter(2)


@dataclass
class _Frame:
    data: bytes
    records: int
    # Pairs per target in this frame: what is lost with a worker that dies.
    targets: dict[TargetKey, int] = field(default_factory=dict)


class _Worker:
    """One worker process: its pipes, what it was sent and what it reported."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.stdin = proc.stdin.fileno()
        self.stdout = proc.stdout.fileno()
        os.set_blocking(self.stdin, False)
        os.set_blocking(self.stdout, False)
        self.reports = b""
        self.ended = asyncio.Event()  # its stdout reached end of file
        self.sent = 0
        self.written = 0
        self.failed = 0
        self.files = 0
        self.last_error: str | None = None
        self.sent_targets: dict[TargetKey, int] = {}
        self.targets: tuple[TargetCounts, ...] = ()


class CaptureProcess:
    """Queues captured pairs and has a worker process write them."""

    def __init__(
        self,
        clock: Clock,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        forward_interval_s: float = DEFAULT_FORWARD_INTERVAL_S,
        forward_records: int = DEFAULT_FORWARD_RECORDS,
        restart_delays_s: Iterable[float] = DEFAULT_RESTART_DELAYS_S,
        nice: int = DEFAULT_NICE,
        log_level: str = "warning",
        rng: random.Random | None = None,
        on_counts: CountsObserver | None = None,
    ) -> None:
        if flush_interval_s <= 0 or forward_interval_s <= 0:
            raise ValueError("flush_interval_s and forward_interval_s must be positive")
        if max_queue < 1 or max_queue_bytes < 1 or forward_records < 1:
            raise ValueError("max_queue, max_queue_bytes and forward_records must be positive")
        self._clock = clock
        self._sampler = Sampler(rng.random if rng is not None else None)
        self._flush_interval_s = flush_interval_s
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._forward_interval_s = forward_interval_s
        self._forward_records = min(forward_records, max_queue)
        self._restart_delays_s = tuple(restart_delays_s) or (1.0,)
        self._nice = nice
        self._log_level = log_level
        # _lock guards the queue and the counters: offer() may come from any
        # thread, everything else runs on the loop that called start().
        self._lock = threading.Lock()
        self._queue: list[Pair] = []
        self._queued_bytes = 0
        self._closed = False
        self._accepted = 0
        self._dropped = 0
        # Counts of workers that have ended, and records lost with them.
        self._written_before = 0
        self._failed_before = 0
        self._files_before = 0
        self._last_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False
        self._frames: deque[_Frame] = deque()
        self._offset = 0  # bytes of the first frame already written
        self._writing = False  # waiting for the pipe to take more
        self._worker: _Worker | None = None
        self._restarts = 0
        self._next_start = 0.0
        self._flush_asked = 0  # aflush() calls so far: each waits for its number's report
        self._flush_framed = 0  # the highest of them put in a frame
        self._flush_answered = 0
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._drained = asyncio.Event()
        self._on_counts = on_counts
        self._retired = TargetTally()  # counts of workers that have ended, lost ones included
        self._drops = TargetTally()
        self._note_pending = False

    # -- request path -------------------------------------------------------

    def sampled(self, config: CaptureConfig) -> bool:
        """Whether to capture this request (one random draw at the config's percentage)."""
        return self._sampler.sampled(config)

    def offer(
        self,
        config: CaptureConfig,
        endpoint: str,
        variant: str,
        request_body: bytes,
        request_content_type: str | None,
        response_body: bytes,
        response_content_type: str | None,
        inference_id: str | None = None,
    ) -> bool:
        """Queue one pair; False if it was dropped. Never blocks, never raises.

        The same contract as :meth:`CaptureWriter.offer
        <moorage.capture.writer.CaptureWriter.offer>`.
        """
        # make_pair() and pair_size(), inlined: this runs for every captured request.
        try:
            request = request_body if config.capture_input else None
            response = response_body if config.capture_output else None
            if not config.enabled or (request is None and response is None):
                return False  # nothing to capture: not a drop
            size = (0 if request is None else len(request)) + (
                0 if response is None else len(response)
            )
            pair: Pair = (
                config,
                endpoint,
                variant,
                self._clock.now(),
                inference_id,
                request,
                request_content_type,
                response,
                response_content_type,
            )
        except Exception:
            log.debug("capture pair refused", exc_info=True)
            with self._lock:
                self._dropped += 1
            return False
        with self._lock:
            queue = self._queue
            if (
                self._closed
                or len(queue) >= self._max_queue
                or self._queued_bytes + size > self._max_queue_bytes
            ):
                self._dropped += 1
                queued = -1
            else:
                queue.append(pair)
                self._queued_bytes += size
                self._accepted += 1
                queued = len(queue)
        if queued < 0:
            self._note_drop(config, endpoint, variant)
            return False
        if self._timer is None or (queued >= self._forward_records and not self._soon):
            self._schedule(soon=queued >= self._forward_records)
        return True

    def _note_drop(self, config: CaptureConfig, endpoint: str, variant: str) -> None:
        """Count a drop for its target; have the totals reported soon (never raises)."""
        try:
            key = (endpoint, variant, config.destination.uri())
        except Exception:
            return  # not a usable config: counted in the total only
        with self._lock:
            self._drops.add(key, dropped=1)
            note, self._note_pending = not self._note_pending, True
        if note:
            self._schedule_note()

    def _schedule_note(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._note_pending = False  # reported with the next report, or at close
            return
        if threading.get_ident() != self._loop_thread:
            with contextlib.suppress(RuntimeError):  # a loop that is closing
                loop.call_soon_threadsafe(self._schedule_note)
            return
        loop.call_later(_DROP_NOTE_DELAY_S, self._note_counts)

    def _note_counts(self) -> None:
        """Hand the per-target totals to ``on_counts`` (on the loop)."""
        self._note_pending = False
        if self._on_counts is None:
            return
        try:
            self._on_counts(self.targets)
        except Exception:
            log.exception("reporting capture counts failed")

    def _schedule(self, *, soon: bool) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started: aclose() starts the worker for what is queued
        if threading.get_ident() != self._loop_thread:
            with contextlib.suppress(RuntimeError):  # a loop that is closing
                loop.call_soon_threadsafe(functools.partial(self._schedule, soon=soon))
            return
        if self._timer is not None:
            if not soon or self._soon:
                return
            self._timer.cancel()
        self._soon = soon
        self._timer = loop.call_later(0 if soon else self._forward_interval_s, self._forward)

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start forwarding; call from the event loop that will forward the pairs (once).

        The worker process itself starts the first time there is something to
        hand over: a server whose endpoints capture nothing runs none.
        """
        if self._loop is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        with self._lock:
            queued = bool(self._queue)
        if queued:
            self._schedule(soon=True)

    async def aflush(self, timeout_s: float | None = None) -> bool:
        """Have everything accepted so far written; False if ``timeout_s`` ran out first."""
        if self._loop is None or self.stats.pending == 0:
            return self.stats.pending == 0
        self._flush_asked += 1
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._flush_waiters.append((self._flush_asked, waiter))
        self._forward()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout_s: float | None = None) -> bool:
        """Refuse new pairs, hand over what is queued, wait for the worker to write it.

        True when every accepted pair has been written or counted as failed;
        False if ``timeout_s`` ran out first (the worker then goes on
        writing what it was given, and exits when it is done).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if self._loop is None:
            with self._lock:
                unstarted = bool(self._queue) and not self._closed
            if not unstarted:
                with self._lock:
                    self._closed = True
                return self.stats.pending == 0
            self.start()  # pairs offered before start() are written too
        with self._lock:
            self._closed = True
        try:
            while True:
                self._forward()
                if not self._frames:
                    break
                self._drained.clear()
                await asyncio.wait_for(self._drained.wait(), remaining())
            worker = self._worker
            if worker is not None:
                self._stop_writing(worker)
                with contextlib.suppress(OSError):
                    worker.proc.stdin.close()  # type: ignore[union-attr]
                await asyncio.wait_for(worker.ended.wait(), remaining())
                await asyncio.to_thread(worker.proc.wait, _EXIT_GRACE_S)
                self._retire(worker)
        except TimeoutError:
            log.warning("the capture writer did not finish within %.1f s", timeout_s)
            return False
        except subprocess.TimeoutExpired:
            log.warning("the capture writer did not exit after writing everything")
            return False
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        return self.stats.pending == 0

    @property
    def stats(self) -> CaptureStats:
        with self._lock:
            worker = self._worker
            written = self._written_before + (worker.written if worker else 0)
            failed = self._failed_before + (worker.failed if worker else 0)
            files = self._files_before + (worker.files if worker else 0)
            last_error = (worker.last_error if worker else None) or self._last_error
            return CaptureStats(
                accepted=self._accepted,
                dropped=self._dropped,
                written=written,
                failed=failed,
                pending=self._accepted - written - failed,
                files_written=files,
                last_error=last_error,
            )

    @property
    def targets(self) -> tuple[TargetCounts, ...]:
        """Counts per target (endpoint, variant, destination) since the start."""
        with self._lock:
            tally = TargetTally()
            tally.merge(self._retired.snapshot())
            if self._worker is not None:
                tally.merge(self._worker.targets)
            tally.merge(self._drops.snapshot())
            return tally.snapshot()

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id (for tests and benchmarks)."""
        worker = self._worker
        return None if worker is None or worker.proc.poll() is not None else worker.proc.pid

    # -- forwarding (on the loop) -------------------------------------------------

    def _forward(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # called directly (aflush, aclose) before it fired
            self._timer = None
        self._soon = False
        if self._frames:
            self._write()  # the pipe is full: the queue waits (and is bounded)
            return
        with self._lock:
            batch, self._queue = self._queue, []
            self._queued_bytes = 0
        if batch:
            frame = _Frame(_framed(("pairs", batch)), len(batch), _count_targets(batch))
            self._frames.append(frame)
        if self._flush_asked > self._flush_framed:
            self._flush_framed = self._flush_asked
            self._frames.append(_Frame(_framed(("flush", self._flush_asked)), 0))
        self._write()

    def _write(self) -> None:
        worker = self._worker
        if worker is None or worker.ended.is_set():
            if not self._frames or not self._start_worker():
                return
            worker = self._worker
            assert worker is not None
        while self._frames:
            frame = self._frames[0]
            try:
                written = os.write(worker.stdin, memoryview(frame.data)[self._offset :])
            except BlockingIOError:
                if not self._writing:
                    self._writing = True
                    assert self._loop is not None
                    self._loop.add_writer(worker.stdin, self._write)
                return
            except OSError as exc:
                self._lost(worker, f"the capture writer process is gone: {exc}")
                return
            self._offset += written
            if self._offset == len(frame.data):
                self._frames.popleft()
                self._offset = 0
                worker.sent += frame.records
                sent = worker.sent_targets
                for key, count in frame.targets.items():
                    sent[key] = sent.get(key, 0) + count
        self._stop_writing(worker)
        self._drained.set()
        if self._flush_asked > self._flush_framed:
            self._schedule(soon=True)  # a flush asked while the pipe was full
            return
        with self._lock:
            queued = bool(self._queue)
        if queued and self._timer is None:
            self._schedule(soon=False)

    def _stop_writing(self, worker: _Worker) -> None:
        if self._writing:
            self._writing = False
            assert self._loop is not None
            self._loop.remove_writer(worker.stdin)

    # -- the worker -------------------------------------------------------------

    def _spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "moorage.capture.worker",
            "--flush-interval",
            repr(self._flush_interval_s),
            "--max-queue",
            str(self._max_queue),
            "--nice",
            str(self._nice),
            "--log-level",
            self._log_level,
        ]
        # Its own process group: a Ctrl-C at the terminal stops the server,
        # which then closes the pipe; the worker must live to write what it has.
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, process_group=0
        )
        worker = _Worker(proc)
        assert self._loop is not None
        self._loop.add_reader(worker.stdout, self._read_reports, worker)
        self._worker = worker

    def _start_worker(self) -> bool:
        """Start a worker (again) if the back-off allows; True if one is running."""
        assert self._loop is not None
        now = time.monotonic()
        if now < self._next_start:
            if self._timer is None:
                self._timer = self._loop.call_later(self._next_start - now, self._forward)
            return False
        delay = self._restart_delays_s[min(self._restarts, len(self._restart_delays_s) - 1)]
        self._restarts += 1
        self._next_start = now + delay
        try:
            self._spawn()
        except OSError as exc:
            with self._lock:
                self._last_error = f"the capture writer process could not start: {exc}"
            log.warning("%s", self._last_error)
            self._worker = None
            return self._start_worker()  # schedules the next attempt
        return True

    def _read_reports(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.stdout, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            assert self._loop is not None
            self._loop.remove_reader(worker.stdout)
            worker.ended.set()
            if not self._closed and self._worker is worker:
                code = worker.proc.poll()
                self._lost(worker, f"the capture writer process exited (code {code})")
            return
        lines = (worker.reports + data).split(b"\n")
        worker.reports = lines.pop()
        for line in lines:
            self._take_report(worker, line)

    def _take_report(self, worker: _Worker, line: bytes) -> None:
        try:
            report: dict[str, Any] = json.loads(line)
        except ValueError:
            log.warning("capture writer printed something unexpected: %r", line[:200])
            return
        self._restarts = 0  # a worker that reports is a working one
        items = report.get("targets")
        targets = [TargetCounts.from_json(item) for item in items or ()]
        with self._lock:
            worker.written = int(report.get("written") or 0)
            worker.failed = int(report.get("failed") or 0)
            worker.files = int(report.get("files") or 0)
            worker.last_error = report.get("last_error")
            worker.targets = tuple(target for target in targets if target is not None)
        seq = report.get("seq")
        if isinstance(seq, int) and seq > self._flush_answered:
            self._answer_flushes(seq)
        self._note_counts()

    def _answer_flushes(self, seq: int) -> None:
        self._flush_answered = seq
        waiting = []
        for asked, waiter in self._flush_waiters:
            if asked <= seq:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((asked, waiter))
        self._flush_waiters = waiting

    def _lost(self, worker: _Worker, reason: str) -> None:
        """A worker died: count what it held as failed, resend what it did not take."""
        assert self._loop is not None
        self._stop_writing(worker)
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(worker.stdout)
        worker.ended.set()
        with contextlib.suppress(OSError):
            worker.proc.kill()
        self._offset = 0  # a frame cut short goes whole to the next worker
        self._retire(worker, reason)
        # Flushes asked of the dead worker are answered: what it held is counted.
        self._answer_flushes(self._flush_asked)
        self._flush_framed = self._flush_asked
        self._frames = deque(frame for frame in self._frames if frame.records)
        if self._frames:
            self._write()

    def _retire(self, worker: _Worker, reason: str | None = None) -> None:
        """Fold a worker's counts into the totals; what it did not write is lost."""
        cause = reason or "the capture writer stopped"
        with self._lock:
            lost = max(0, worker.sent - worker.written - worker.failed)
            self._written_before += worker.written
            self._failed_before += worker.failed + lost
            self._files_before += worker.files
            if worker.last_error:
                self._last_error = worker.last_error
            if lost:
                self._last_error = f"{cause}: {lost} records lost"
            self._retired.merge(worker.targets)
            done = {target.key: target.written + target.failed for target in worker.targets}
            for key, sent in worker.sent_targets.items():
                missing = sent - done.get(key, 0)
                if missing > 0:
                    self._retired.add(key, failed=missing, error=f"{cause} with records unwritten")
            worker.targets = ()
            if self._worker is worker:
                self._worker = None
        if lost:
            log.warning("%s", self._last_error)
        self._note_counts()
        with contextlib.suppress(OSError):
            worker.proc.stdout.close()  # type: ignore[union-attr]


def _count_targets(batch: list[Pair]) -> dict[TargetKey, int]:
    """Pairs per target in ``batch``.

    This runs on the loop for every hand-over, so the per-pair work is done
    by C loops (map, list.count, Counter): a batch usually holds one target,
    which the counts recognise without building a key per pair.
    """
    configs = list(map(_CONFIG, batch))
    ids = list(map(id, configs))
    endpoints = list(map(_ENDPOINT, batch))
    variants = list(map(_VARIANT, batch))
    size = len(batch)
    counts: Mapping[tuple[str, str, int], int]
    if (
        ids.count(ids[0]) == size
        and endpoints.count(endpoints[0]) == size
        and variants.count(variants[0]) == size
    ):
        counts = {(endpoints[0], variants[0], ids[0]): size}
        by_id = {ids[0]: configs[0]}
    else:
        counts = Counter(zip(endpoints, variants, ids, strict=True))
        by_id = dict(zip(ids, configs, strict=True))
    targets: dict[TargetKey, int] = {}
    for (endpoint, variant, config), count in counts.items():
        target = (endpoint, variant, by_id[config].destination.uri())
        targets[target] = targets.get(target, 0) + count
    return targets


def _framed(payload: tuple[str, object]) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME_HEADER.pack(len(data)) + data
