"""Capturing request/response pairs off the request path.

The runtime asks :meth:`CaptureWriter.sampled` whether to capture a request
and, once the response is known, hands the pair to :meth:`CaptureWriter.offer`.
``offer`` only appends to a bounded in-memory queue under a short lock: it
never blocks on I/O, never raises, and when the queue is full (by records or
by bytes) it drops the pair and counts it. Encoding (base64, JSON) and
writing happen on one background thread, because S3 PutObject is blocking
botocore and a request path runs on an event loop. The server does not use
it in its own process: :mod:`moorage.capture.process` hands pairs to a
writer process (:mod:`moorage.capture.worker`) that runs one, fed through
:meth:`CaptureWriter.accept`; in-process use (tests, scripts) is as above.

The writer thread flushes every ``flush_interval_s`` seconds, and sooner when
the queue holds ``batch_records`` records or ``batch_bytes`` bytes. A flush
writes one file per (destination, KMS key, endpoint, variant, UTC hour) with
the records in the order they were offered (:mod:`moorage.capture.keys`
names it, :mod:`moorage.capture.sinks` writes it). A file that cannot be
written is retried after each of ``retry_delays_s``; then its records are
counted as failed, per target (:mod:`moorage.capture.targets`: endpoint,
variant, destination), and the cause is logged once per change, not per
file. :meth:`CaptureWriter.close` (or
``aclose`` from a coroutine) refuses new pairs, stops the thread and flushes
what is queued: a clean stop loses no accepted record.

Timestamps (``inferenceTime`` and the key's time) come from the injected
:class:`~moorage.clock.Clock` when the pair is offered; the flush interval is
real time, as the thread cannot wait on a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

from moorage.artifacts.s3 import S3ClientFactory
from moorage.capture.config import CaptureConfig
from moorage.capture.destination import Destination
from moorage.capture.encode import event_ids, record_line
from moorage.capture.format import format_time
from moorage.capture.keys import object_key
from moorage.capture.sampling import Sampler
from moorage.capture.sinks import SinkError, Sinks
from moorage.capture.targets import ChangeLog, TargetCounts, TargetKey, TargetTally
from moorage.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL_S = 5.0
DEFAULT_MAX_QUEUE = 10_000
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH_RECORDS = 1_000
DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
DEFAULT_RETRY_DELAYS_S = (0.5, 2.0)
# Encoding holds the interpreter lock; a request path in the same process (an
# event loop) would otherwise wait up to the 5 ms switch interval for it while
# a large batch is encoded. Releasing it every so many records bounds that
# wait to tens of microseconds.
_YIELD_EVERY = 32


@dataclass(frozen=True)
class CaptureStats:
    """Counts since the writer was made (records unless named otherwise).

    ``accepted`` = ``written`` + ``failed`` + ``pending``; ``dropped`` pairs
    were refused by :meth:`CaptureWriter.offer` (queue full, or writer closed).
    ``targets`` splits the counts by endpoint, variant and destination.
    """

    accepted: int
    dropped: int
    written: int
    failed: int
    pending: int
    files_written: int
    last_error: str | None
    targets: tuple[TargetCounts, ...] = ()


# One captured request/response pair as queued, a side not captured being None:
# (config, endpoint, variant, time, inference_id, request, request content type,
# response, response content type). A plain tuple, read by position: it is
# built on the request path, so it should cost as little as possible, and
# batches of them are what moorage.capture.process pickles for the writer
# process (plain tuples pickle several times faster than named ones).
Pair = tuple[
    CaptureConfig,
    str,
    str,
    float,
    "str | None",
    "bytes | None",
    "str | None",
    "bytes | None",
    "str | None",
]


def make_pair(
    config: CaptureConfig,
    endpoint: str,
    variant: str,
    at: float,
    inference_id: str | None,
    request_body: bytes,
    request_content_type: str | None,
    response_body: bytes,
    response_content_type: str | None,
) -> Pair | None:
    """The pair to queue: the sides ``config`` captures; None if it captures nothing."""
    request = request_body if config.capture_input else None
    response = response_body if config.capture_output else None
    if not config.enabled or (request is None and response is None):
        return None
    return (
        config,
        endpoint,
        variant,
        at,
        inference_id,
        request,
        request_content_type,
        response,
        response_content_type,
    )


def pair_size(pair: Pair) -> int:
    """The bytes a queued pair holds (what the queue's byte bound counts)."""
    request, response = pair[5], pair[7]
    return (0 if request is None else len(request)) + (0 if response is None else len(response))


_GroupKey = tuple[int, str, str, int]


class CaptureWriter:
    """Batches captured pairs and writes them from a background thread."""

    def __init__(
        self,
        clock: Clock,
        s3_client_factory: S3ClientFactory | None = None,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        retry_delays_s: Iterable[float] = DEFAULT_RETRY_DELAYS_S,
        rng: random.Random | None = None,
        on_flush: Callable[[CaptureStats], None] | None = None,
        log_failures: bool = True,
    ) -> None:
        if flush_interval_s <= 0 or max_queue < 1 or max_queue_bytes < 1:
            raise ValueError("flush_interval_s, max_queue and max_queue_bytes must be positive")
        self._clock = clock
        self._sinks = Sinks(s3_client_factory)
        self._sampler = Sampler(rng.random if rng is not None else None)
        self._flush_interval_s = flush_interval_s
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._batch_records = max(1, min(batch_records, max_queue))
        self._batch_bytes = max(1, min(batch_bytes, max_queue_bytes))
        self._retry_delays_s = tuple(retry_delays_s)
        self._on_flush = on_flush
        # _lock guards the queue and the counters and is only held briefly:
        # the request path takes it in offer(). _write_lock serialises
        # flushes (writer thread, flush(), close()) and is held during I/O.
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._queue: deque[Pair] = deque()
        self._queued_bytes = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._accepted = 0
        self._dropped = 0
        self._dropped_reported = 0
        self._written = 0
        self._failed = 0
        self._files_written = 0
        self._last_error: str | None = None
        self._targets = TargetTally()
        # The writer process leaves logging to the server, which sees every
        # worker's counts (moorage.capture.reporting).
        self._changes = ChangeLog(log) if log_failures else None

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
        """Queue one pair for writing; False if it was dropped. Never blocks, never raises.

        The pair is captured as given: ask :meth:`sampled` first. Only the
        sides the config captures are kept; a disabled config captures
        nothing (False, not counted as dropped).
        """
        try:
            pair = make_pair(
                config,
                endpoint,
                variant,
                self._clock.now(),
                inference_id,
                request_body,
                request_content_type,
                response_body,
                response_content_type,
            )
            size = 0 if pair is None else pair_size(pair)
        except Exception:
            log.debug("capture pair refused", exc_info=True)
            with self._lock:
                self._dropped += 1
            return False
        if pair is None:
            return False  # nothing to capture: not a drop
        with self._lock:
            if (
                self._closed
                or len(self._queue) >= self._max_queue
                or self._queued_bytes + size > self._max_queue_bytes
            ):
                self._dropped += 1
                return False
            self._queue.append(pair)
            self._queued_bytes += size
            self._accepted += 1
            full = (
                len(self._queue) >= self._batch_records or self._queued_bytes >= self._batch_bytes
            )
        if full and not self._wake.is_set():
            self._wake.set()
        return True

    def accept(self, pairs: Iterable[Pair]) -> int:
        """Queue pairs already taken elsewhere (another process's :meth:`offer`).

        Bounds are not applied here: whoever offered the pairs applied them
        and counted drops. Returns how many records are now queued, so that
        the caller can :meth:`flush` (and stop taking more) when it is many.
        """
        pairs = list(pairs)
        size = sum(map(pair_size, pairs))
        with self._lock:
            self._queue.extend(pairs)
            self._queued_bytes += size
            self._accepted += len(pairs)
            queued = len(self._queue)
            full = queued >= self._batch_records or self._queued_bytes >= self._batch_bytes
        if full and not self._wake.is_set():
            self._wake.set()
        return queued

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (once). Without it, only flush() and close() write."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
            self._thread.start()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Write everything accepted so far, in the calling thread; False on timeout."""
        if not self._write_lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
            return False
        try:
            taken = self._flush_locked()
        finally:
            self._write_lock.release()
        if taken and self._on_flush is not None:
            try:
                self._on_flush(self.stats)
            except Exception:
                log.exception("capture flush callback failed")
        return True

    def close(self, timeout_s: float | None = None) -> bool:
        """Refuse new pairs, stop the thread, write what is queued.

        True when every accepted pair has been written or counted as failed;
        False if ``timeout_s`` ran out first (the rest stays queued).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stopping.set()
        self._wake.set()
        if thread is not None:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("capture writer did not finish within %.1f s", timeout_s)
                return False
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.flush(remaining) and self.stats.pending == 0

    async def aclose(self, timeout_s: float | None = None) -> bool:
        """:meth:`close` from a coroutine, without blocking the event loop."""
        return await asyncio.to_thread(self.close, timeout_s)

    def __enter__(self) -> CaptureWriter:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stats(self) -> CaptureStats:
        with self._lock:
            return CaptureStats(
                accepted=self._accepted,
                dropped=self._dropped,
                written=self._written,
                failed=self._failed,
                pending=self._accepted - self._written - self._failed,
                files_written=self._files_written,
                last_error=self._last_error,
                targets=self._targets.snapshot(),
            )

    # -- writer thread ------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            stopping = self._stopping.is_set()
            try:
                self.flush()
            except Exception:  # the writer thread must outlive any one bad flush
                log.exception("capture flush failed")
            if stopping:
                return

    def _flush_locked(self) -> int:
        with self._lock:
            batch = self._queue
            self._queue = deque()
            self._queued_bytes = 0
            dropped = self._dropped
        if dropped > self._dropped_reported:
            log.warning(
                "capture queue full or closed: %d pairs dropped (%d in all)",
                dropped - self._dropped_reported,
                dropped,
            )
            self._dropped_reported = dropped
        # Grouped by small keys that hash fast (thousands of pairs per flush):
        # each config's (destination, KMS key) becomes an int, the UTC hour is
        # the epoch second // 3600 (what Hour.of distinguishes).
        targets: dict[tuple[Destination, str | None], int] = {}
        by_config: dict[int, int] = {}  # id(config) → target; the batch keeps configs alive
        groups: dict[_GroupKey, list[Pair]] = {}
        for pair in batch:
            config, endpoint, variant, at = pair[0], pair[1], pair[2], pair[3]
            target = by_config.get(id(config))
            if target is None:
                value = (config.destination, config.kms_key_id)
                target = by_config[id(config)] = targets.setdefault(value, len(targets))
            key = (target, endpoint, variant, int(at) // 3600)
            group = groups.get(key)
            if group is None:
                groups[key] = [pair]
            else:
                group.append(pair)
        for pairs in groups.values():
            config, endpoint, variant = pairs[0][0], pairs[0][1], pairs[0][2]
            self._write_group(config.destination, config.kms_key_id, endpoint, variant, pairs)
        return len(batch)

    def _write_group(
        self,
        destination: Destination,
        kms_key_id: str | None,
        endpoint: str,
        variant: str,
        pairs: list[Pair],
    ) -> None:
        target = (endpoint, variant, destination.uri())
        lines: list[str] = []
        append = lines.append
        ids = event_ids(len(pairs))
        for n, pair in enumerate(pairs):
            # Unpacked in one go: this loop runs once per record.
            config, _, _, at, inference_id, request, request_type, response, response_type = pair
            if n and not n % _YIELD_EVERY:
                os.sched_yield()  # let the event loop have the interpreter (see _YIELD_EVERY)
            try:
                append(
                    record_line(
                        config,
                        ids[n],
                        format_time(at),
                        inference_id,
                        request,
                        request_type,
                        response,
                        response_type,
                    )
                )
            except Exception as exc:
                cause = f"a capture record could not be encoded: {exc}"
                self._count_failed(target, 1, cause, cause)
        if not lines:
            return
        body = ("\n".join(lines) + "\n").encode("utf-8")
        key = object_key(endpoint, variant, pairs[0][3])
        error = cause = ""
        for delay in (0.0, *self._retry_delays_s):
            if delay:
                time.sleep(delay)
            try:
                self._sinks.write(destination, key, body, kms_key_id)
            except SinkError as exc:
                error, cause = str(exc), exc.cause
                continue
            except Exception as exc:  # e.g. a client factory that raises its own error
                cause = f"{type(exc).__name__}: {exc}"
                error = f"{destination.uri(key)}: {cause}"
                continue
            with self._lock:
                self._written += len(lines)
                self._files_written += 1
                self._targets.add(target, written=len(lines))
            if self._changes is not None:
                self._changes.written(target)
            return
        attempts = 1 + len(self._retry_delays_s)
        self._count_failed(
            target,
            len(lines),
            f"capture file not written after {attempts} attempts: {error}",
            cause,
        )

    def _count_failed(self, target: TargetKey, records: int, message: str, cause: str) -> None:
        with self._lock:
            self._failed += records
            self._last_error = message
            self._targets.add(target, failed=records, error=cause)
            counts = self._targets.get(target)
        log.debug("%s (%d records lost)", message, records)
        if self._changes is not None:
            self._changes.failed(counts)
