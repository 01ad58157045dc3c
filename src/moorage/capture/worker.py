"""The capture writer process: ``python -m moorage.capture.worker``.

Started by :class:`moorage.capture.process.CaptureProcess`, which sends it
frames on stdin: a 4-byte big-endian length, then a pickle of either
``("pairs", [Pair, ...])`` or ``("flush", seq)``. Pairs go to a
:class:`~moorage.capture.writer.CaptureWriter`, which encodes and writes
them from its thread as it does in any process. After every flush that
wrote something, and in answer to each ``("flush", seq)``, the process
prints its counts as one JSON line on stdout (:func:`report_line`), in all
and per target (endpoint, variant, destination). It does not log write
failures itself: the server, which sees the counts of every worker it ran,
reports them (:mod:`moorage.capture.reporting`).

End of input (the server closed the pipe, or died) is the only way to stop
it: it then writes everything it holds, prints its last counts and exits.
SIGINT and SIGTERM are ignored (and the server starts it in a process group
of its own, out of reach of a terminal's Ctrl-C), so that a signal meant for
the server cannot lose records before the server has handed them all over.
When it holds ``--max-queue`` records it writes them before reading more:
the pipe fills and the server's own bounded queue takes the overflow (and
counts what it drops).

It lowers its priority (``--nice``): on a busy machine, serving requests
goes first and capture catches up in the gaps.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Sequence
from typing import BinaryIO

from moorage.capture.writer import DEFAULT_MAX_QUEUE, CaptureStats, CaptureWriter, Pair
from moorage.clock import SystemClock

log = logging.getLogger("moorage.capture.worker")

FRAME_HEADER = struct.Struct("!I")


def report_line(stats: CaptureStats, seq: int | None = None) -> bytes:
    """The JSON line the process prints: its counts, and the flush it answers."""
    report = {
        "seq": seq,
        "accepted": stats.accepted,
        "written": stats.written,
        "failed": stats.failed,
        "files": stats.files_written,
        "last_error": stats.last_error,
        "targets": [target.to_json() for target in stats.targets],
    }
    return json.dumps(report).encode() + b"\n"


def read_frame(stream: BinaryIO) -> object | None:
    """The next frame's payload; None at the end of input (a cut-off frame too)."""
    header = _read_exactly(stream, FRAME_HEADER.size)
    if header is None:
        return None
    (length,) = FRAME_HEADER.unpack(header)
    body = _read_exactly(stream, length)
    if body is None:
        log.warning("the server closed the capture pipe in the middle of a frame")
        return None
    # The pipe comes from the server that started this process, nobody else.
    payload: object = pickle.loads(body)
    return payload


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks = []
    missing = size
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


class _Reporter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, stats: CaptureStats, seq: int | None = None) -> None:
        with self._lock:
            try:
                self._out.write(report_line(stats, seq))
                self._out.flush()
            except (BrokenPipeError, ValueError):
                pass  # the server is gone; the records are still written


def run(
    stdin: BinaryIO, stdout: BinaryIO, *, flush_interval_s: float, max_queue: int
) -> CaptureStats:
    """Read frames until the end of input; write every pair; return the final counts."""
    report = _Reporter(stdout)
    writer = CaptureWriter(
        SystemClock(), flush_interval_s=flush_interval_s, on_flush=report, log_failures=False
    )
    writer.start()
    try:
        while True:
            frame = read_frame(stdin)
            if frame is None:
                break
            if not isinstance(frame, tuple) or len(frame) != 2:
                log.error("unexpected capture frame %r", type(frame))
                continue
            kind, value = frame
            if kind == "pairs" and isinstance(value, list):
                pairs: list[Pair] = value  # as the server queued them
                if writer.accept(pairs) >= max_queue:
                    writer.flush()
            elif kind == "flush" and isinstance(value, int):
                writer.flush()
                report(writer.stats, value)
            else:
                log.error("unexpected capture frame %r", kind)
    finally:
        writer.close()
    stats = writer.stats
    report(stats)
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moorage.capture.worker")
    parser.add_argument("--flush-interval", type=float, default=5.0)
    parser.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE)
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.nice > 0:
        os.nice(args.nice)
    stats = run(
        sys.stdin.buffer,
        sys.stdout.buffer,
        flush_interval_s=args.flush_interval,
        max_queue=args.max_queue,
    )
    return 0 if stats.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
