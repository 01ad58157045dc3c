"""How the model server process relates to its parent: failure reports and orphan protection.

The parent (``moorage serve``'s local fleet, :mod:`moorage.fleet.local`)
reads why a copy failed to start from the file named by
``MOORAGE_FAILURE_FILE``; :func:`write_failure` puts one paragraph there.

A copy must never outlive its parent. When ``MOORAGE_PARENT_PID`` is set,
:func:`guard_parent` asks the Linux kernel to SIGKILL this process when the
parent dies (``PR_SET_PDEATHSIG``) and also starts a watcher thread that
exits the process once the parent is gone. On Linux the watcher blocks on a
pidfd of the parent (``pidfd_open``), which becomes readable the moment the
parent exits: an idle copy never wakes for it. Elsewhere it polls every
:data:`WATCH_INTERVAL_S`, judging by ``getppid()`` changing (the process was
re-parented) or the PID no longer existing. The watcher covers a parent that
is not the direct parent (a wrapper script), and the race where the parent
died before ``prctl`` ran. :mod:`moorage.container.server` calls both.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import threading
import time
from pathlib import Path

from moorage.container.errors import ExitCode

WATCH_INTERVAL_S = 0.2
_PR_SET_PDEATHSIG = 1


def write_failure(path: Path | None, reason: str) -> None:
    """Leave ``reason`` for the parent, atomically; never raise (we are already failing)."""
    if path is None:
        return
    text = " ".join(reason.split()) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        sys.stderr.write(f"could not write the failure file {path}: {exc}\n")
        with contextlib.suppress(OSError):
            tmp.unlink()


def parent_alive(pid: int, original_ppid: int) -> bool:
    if os.getppid() != original_ppid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def guard_parent(pid: int) -> None:
    """Die with the parent ``pid``; exits at once if it is already gone."""
    original_ppid = os.getppid()
    if sys.platform.startswith("linux"):
        _set_parent_death_signal()
    if not parent_alive(pid, original_ppid):
        _orphaned(pid)
    thread = threading.Thread(
        target=_watch, args=(pid, original_ppid), name="parent-watcher", daemon=True
    )
    thread.start()


def _set_parent_death_signal() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watcher thread still covers it


def _watch(pid: int, original_ppid: int) -> None:
    descriptor = _pidfd(pid)
    if descriptor is not None:
        # Readable once the process exits; nothing wakes this thread before.
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        while not poller.poll():
            pass
        _orphaned(pid)
    while parent_alive(pid, original_ppid):
        time.sleep(WATCH_INTERVAL_S)
    _orphaned(pid)


def _pidfd(pid: int) -> int | None:
    """A pidfd of ``pid`` (Linux 5.3 and later), or None where there is none."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        descriptor: int = opener(pid)
    except ProcessLookupError:
        _orphaned(pid)
    except OSError:  # an older kernel, or not allowed: poll instead
        return None
    return descriptor


def _orphaned(pid: int) -> None:
    # Nobody is left to read responses or a clean exit: leave at once, without
    # waiting for handler threads.
    with contextlib.suppress(Exception):
        sys.stderr.write(f"moorage model server: parent process {pid} is gone; exiting\n")
        sys.stderr.flush()
        sys.stdout.flush()
    os._exit(ExitCode.ORPHANED)
