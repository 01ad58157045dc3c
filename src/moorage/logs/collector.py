"""Stamps each line a model server prints and appends it to its stream's file.

A copy's stdout and stderr share one pipe (so their relative order is the
order the process wrote them in); :meth:`LogCollector.attach` hands the pipe's
read end to the collector, which runs one thread for every copy of the
server. The thread reads what arrives, cuts it into lines, stamps each with
the time it was read (its ingestion time, in milliseconds; never earlier
than the file's last stamp, so a file's stamps never decrease even if the
wall clock steps back) and appends them to the file in one write
(:mod:`moorage.logs.record` is the line format).

A thread, not the event loop, does this so that a chatty model server costs
the port's requests nothing but its share of the GIL; and reading the pipe
as soon as there is output keeps the model server from ever blocking on a
full pipe. A line longer than CloudWatch's largest event is cut into
several events; an unfinished line is written as it stands once it has
waited :data:`PARTIAL_FLUSH_S` (a prompt or a progress bar without a newline
still shows); empty lines are dropped, as CloudWatch takes no empty events.
When the pipe closes (the process and any children that shared its output
are gone) the attachment's :attr:`~Attachment.closed` event is set: the last
lines are on disk, and :meth:`Attachment.tail` holds the end of the output,
which the fleet quotes when a copy fails to start.

Neighbours: :mod:`moorage.fleet.local` attaches each copy's pipe;
:mod:`moorage.logs.layout` names the files; :mod:`moorage.logs.stream_file`
reads them back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moorage.logs.record import MAX_MESSAGE_BYTES, Stamper
from moorage.logs.stream_file import ends_with_newline, last_event

log = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
PARTIAL_FLUSH_S = 1.0
TAIL_BYTES = 4000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Attachment:
    """One copy's output pipe, as the collector sees it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Set once the pipe has closed and everything read from it is written.
        self.closed = threading.Event()
        self._tail = bytearray()
        self._tail_lock = threading.Lock()
        self.pending = b""
        self.pending_since = 0.0

    def remember(self, data: bytes) -> None:
        with self._tail_lock:
            self._tail += data
            if len(self._tail) > TAIL_BYTES:
                del self._tail[: len(self._tail) - TAIL_BYTES]

    def tail(self, limit: int = 2000) -> str:
        """The last ``limit`` bytes this copy printed, decoded and stripped."""
        with self._tail_lock:
            data = bytes(self._tail[-limit:])
        return data.decode("utf-8", "replace").strip()


@dataclass
class _OpenFile:
    fd: int | None
    last_ms: int
    refs: int = 0
    failed: bool = False
    stamper: Stamper = field(default_factory=Stamper)


def split_message(line: bytes, limit: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """``line`` as events of at most ``limit`` bytes, cut between UTF-8 characters."""
    pieces: list[bytes] = []
    while len(line) > limit:
        cut = limit
        # Step back over continuation bytes (10xxxxxx) to a character's start.
        while cut > limit - 4 and line[cut] & 0xC0 == 0x80:
            cut -= 1
        pieces.append(line[:cut])
        line = line[cut:]
    if line:
        pieces.append(line)
    return pieces


class LogCollector:
    """The thread that turns copies' output pipes into stamped stream files."""

    def __init__(
        self,
        *,
        now_ms: Callable[[], int] = wall_ms,
        partial_flush_s: float = PARTIAL_FLUSH_S,
    ) -> None:
        self._now_ms = now_ms
        self._partial_flush_s = partial_flush_s
        self._lock = threading.Lock()
        self._incoming: list[tuple[int, Attachment]] = []
        self._thread: threading.Thread | None = None
        self._stop_at: float | None = None
        self._selector = selectors.DefaultSelector()
        self._waker_r, self._waker_w = os.pipe()
        os.set_blocking(self._waker_r, False)
        os.set_blocking(self._waker_w, False)
        self._selector.register(self._waker_r, selectors.EVENT_READ, None)
        self._attached: dict[int, Attachment] = {}
        self._files: dict[Path, _OpenFile] = {}

    # -- called from any thread ------------------------------------------------

    def attach(self, fd: int, path: Path) -> Attachment:
        """Collect what arrives on the read end ``fd`` into ``path``; the collector owns ``fd``."""
        attachment = Attachment(path)
        with self._lock:
            if self._stop_at is not None:
                os.close(fd)
                attachment.closed.set()
                return attachment
            self._incoming.append((fd, attachment))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="model-server-logs", daemon=True
                )
                self._thread.start()
        self._wake()
        return attachment

    def close(self, timeout: float = 2.0) -> None:
        """Write what is still arriving for up to ``timeout`` seconds, then stop."""
        with self._lock:
            if self._stop_at is None:
                self._stop_at = time.monotonic() + timeout
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout + 5)
        else:
            self._shut()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._waker_w, b"x")

    # -- the thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._step():
                pass
        finally:
            self._shut()

    def _step(self) -> bool:
        """One wait for output and what it brought; False once it is time to stop."""
        try:
            self._take_incoming()
            with self._lock:
                stop_at = self._stop_at
            now = time.monotonic()
            if stop_at is not None and (not self._attached or now >= stop_at):
                return False
            timeout = self._partial_flush_s
            if stop_at is not None:
                timeout = min(timeout, max(0.0, stop_at - now))
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError, OSError):
                        os.read(self._waker_r, 4096)
                else:
                    self._read(key.fd, key.data)
            self._flush_partials(time.monotonic())
        except Exception:
            # Never stop reading: closing the pipes would kill the model servers.
            log.exception("collecting model-server output failed; going on")
            time.sleep(0.1)
        return True

    def _take_incoming(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for fd, attachment in incoming:
            self._open(attachment.path)
            self._attached[fd] = attachment
            try:
                self._selector.register(fd, selectors.EVENT_READ, attachment)
            except (OSError, ValueError) as exc:
                log.warning("cannot read the output of %s: %s", attachment.path, exc)
                self._detach(fd, attachment)

    def _read(self, fd: int, attachment: Attachment) -> None:
        try:
            data = os.read(fd, READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._detach(fd, attachment)
            return
        attachment.remember(data)
        lines = (attachment.pending + data).split(b"\n")
        rest = lines.pop()
        messages: list[bytes] = []
        for line in lines:
            messages.extend(split_message(line.removesuffix(b"\r")))
        while len(rest) > MAX_MESSAGE_BYTES:
            first, *_ = split_message(rest)
            messages.append(first)
            rest = rest[len(first) :]
        if rest and (not attachment.pending or lines):
            attachment.pending_since = time.monotonic()
        attachment.pending = rest
        self._write(attachment.path, messages)

    def _flush_partials(self, now: float) -> None:
        for attachment in self._attached.values():
            if attachment.pending and now - attachment.pending_since >= self._partial_flush_s:
                self._write(attachment.path, [attachment.pending])
                attachment.pending = b""

    def _detach(self, fd: int, attachment: Attachment) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)
        self._attached.pop(fd, None)
        if attachment.pending:
            self._write(attachment.path, [attachment.pending])
            attachment.pending = b""
        self._release(attachment.path)
        attachment.closed.set()

    def _shut(self) -> None:
        for fd, attachment in list(self._attached.items()):
            self._detach(fd, attachment)
        with self._lock:
            leftover, self._incoming = self._incoming, []
        for fd, attachment in leftover:
            with contextlib.suppress(OSError):
                os.close(fd)
            attachment.closed.set()
        for opened in self._files.values():
            if opened.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(opened.fd)
        self._files.clear()
        with contextlib.suppress(Exception):
            self._selector.close()
        for fd in (self._waker_r, self._waker_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- files --------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        opened = self._files.get(path)
        if opened is None:
            opened = self._files[path] = _open_stream(path)
        opened.refs += 1

    def _release(self, path: Path) -> None:
        opened = self._files.get(path)
        if opened is None:
            return
        opened.refs -= 1
        if opened.refs <= 0:
            if opened.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(opened.fd)
            del self._files[path]

    def _write(self, path: Path, messages: list[bytes]) -> None:
        messages = [m for m in messages if m]
        opened = self._files.get(path)
        if not messages or opened is None or opened.fd is None:
            return
        stamp = max(self._now_ms(), opened.last_ms)
        opened.last_ms = stamp
        data = b"".join(opened.stamper.line(stamp, m) for m in messages)
        try:
            view = memoryview(data)
            while view:
                written = os.write(opened.fd, view)
                view = view[written:]
            opened.failed = False
        except OSError as exc:
            # A full disk, most likely. The lines are lost (a model server
            # cannot be made to wait for disk space); say so once per episode.
            if not opened.failed:
                log.warning("cannot write model-server output to %s: %s", path, exc)
            opened.failed = True


def _open_stream(path: Path) -> _OpenFile:
    """Open ``path`` for appending, its last stamp known and its last line complete."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        log.warning("cannot open %s for model-server output: %s", path, exc)
        return _OpenFile(None, 0)
    last = last_event(path)
    with contextlib.suppress(OSError):
        if not ends_with_newline(path):
            # A line cut short (the disk filled, the server died mid-write):
            # end it, so that new lines start on their own.
            os.write(fd, b"\n")
    return _OpenFile(fd, last.timestamp if last else 0)
