"""Checking that processes are gone (zombies count as gone), and finding copies by id."""

from __future__ import annotations

import os
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_dead(pids: set[int], timeout: float = 15.0) -> set[int]:
    """The pids still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def copies_running(prefix: str) -> dict[str, int]:
    """Live model-server processes whose MOORAGE_COPY_ID starts with ``prefix``: id → pid."""
    found: dict[str, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not alive(int(entry)):
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"MOORAGE_COPY_ID=" + prefix.encode()):
                found[item.split(b"=", 1)[1].decode()] = int(entry)
    return found
