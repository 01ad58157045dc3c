"""The data dir: a private folder that one server at a time may use.

``moorage serve`` keeps everything it writes under one directory
(:attr:`Settings.data_dir <moorage.settings.Settings.data_dir>`): the SQLite
database, artifact caches, model-server logs and sockets, the clock file, the
API credentials. :func:`open_data_dir` makes that directory private (mode
0700, created so or tightened if it belongs to this user) and takes an
exclusive ``flock`` on ``<data dir>/lock`` for the server's life, so that a
second server on the same directory stops at once with one line instead of
writing into the first one's database. The lock file also holds the owner's
pid, for that line. The kernel drops the lock when the process ends, however
it ends, so a crashed server never leaves the directory locked.

Files inside are kept private by the process umask (:data:`PRIVATE_UMASK`,
set by :func:`moorage.server.serve`); code that sets explicit modes (archive
extraction, :mod:`moorage.artifacts`) keeps group and other bits off too.
See docs/data-dir.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Files and folders the server creates are readable by its own user only.
PRIVATE_UMASK = 0o077
LOCK_NAME = "lock"
# A second server may look just before the first has written its pid.
_PID_WAIT_S = 1.0


class DataDirError(Exception):
    """The data dir cannot be used (the message is one line, fit for the command line)."""


@dataclass
class DataDirLock:
    """The held lock; :meth:`release` (or the process's end) lets another server in."""

    path: Path
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def open_data_dir(path: Path) -> DataDirLock:
    """Create or tighten ``path`` (mode 0700) and lock it; :class:`DataDirError` if in use."""
    make_private_dir(path)
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise DataDirError(
            f"the data dir {path} cannot be locked: {lock_path}: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = _read_pid(fd)
        os.close(fd)
        raise DataDirError(
            f"the data dir {path} is in use by another moorage server (pid {owner})"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise DataDirError(
            f"the data dir {path} cannot be locked: {lock_path}: {exc.strerror or exc}"
        ) from None
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(lock_path, fd)


def make_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700, or take group and other bits off an existing one of ours."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise DataDirError(
            f"the data dir {path} cannot be created: {exc.strerror or exc}"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise DataDirError(f"the data dir {path} is not a directory")
    if info.st_uid != os.getuid():
        # Not ours to change; the files the server writes are still private.
        log.warning(
            "the data dir %s belongs to another user (uid %d); its mode is left as it is",
            path,
            info.st_uid,
        )
        return
    if info.st_mode & 0o077:
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
        except OSError as exc:
            raise DataDirError(
                f"the data dir {path} cannot be made private: {exc.strerror or exc}"
            ) from None


def _read_pid(fd: int) -> str:
    deadline = time.monotonic() + _PID_WAIT_S
    while True:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            text = ""
        if text.isdigit():
            return text
        if time.monotonic() >= deadline:
            return "unknown"
        time.sleep(0.05)
