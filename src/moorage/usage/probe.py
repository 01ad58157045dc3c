"""Reads what the copies' processes use, with psutil (run in a worker thread).

A copy is its model-server process and every process below it (workers a
model server forks, a program it runs). :meth:`ProcessProbe.read` walks each
copy's tree from one table of parent ids built per reading, and sums:

- CPU time (user and system, plus that of children already waited for, so
  a worker that exited between two readings still counts), turned into a
  percentage over the wall-clock time since the copy's previous reading —
  or since its process started, at its first reading;
- resident memory (RSS; pages shared between the processes count once per
  process, so this over-counts a forked server a little);
- the usage of the file system holding the copy's model files;
- with NVML (:mod:`moorage.usage.gpu`), the GPUs its processes hold.

Processes that vanish while being read are skipped. The probe keeps the
previous CPU total of each copy; :meth:`read` is called from one thread at a
time (the sampler awaits each reading).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil

from moorage.fleet.processes import CopyProcess
from moorage.usage.gpu import Gpus
from moorage.usage.scaling import CopyReading, DeviceSample, cpu_percent, devices_used

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True)
class _Tree:
    pids: tuple[int, ...]
    cpu_seconds: float
    rss_bytes: int
    started: float  # epoch seconds the copy's process started


class ProcessProbe:
    def __init__(self, *, gpus: bool = True) -> None:
        # Copy id -> (CPU seconds, monotonic time) at its previous reading.
        self._previous: dict[str, tuple[float, float]] = {}
        self._want_gpus = gpus
        self._gpus: Gpus | None = None
        self._gpus_opened = False

    def read(self, processes: Sequence[CopyProcess]) -> list[CopyReading]:
        children = _children_table()
        devices = self._devices()
        readings = []
        seen = set()
        for process in processes:
            seen.add(process.copy_id)
            tree = _tree(process.pid, children)
            if tree is None:
                self._previous.pop(process.copy_id, None)
                continue
            readings.append(
                CopyReading(
                    process,
                    cpu_percent=self._cpu(process.copy_id, tree),
                    rss_bytes=tree.rss_bytes,
                    disk_percent=_disk_percent(process.disk_path),
                    devices=None if devices is None else devices_used(devices, tree.pids),
                )
            )
        for gone in set(self._previous) - seen:
            del self._previous[gone]
        return readings

    def close(self) -> None:
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None

    def _cpu(self, copy_id: str, tree: _Tree) -> float | None:
        now = time.monotonic()
        previous = self._previous.get(copy_id)
        self._previous[copy_id] = (tree.cpu_seconds, now)
        if previous is None:
            # First reading: the average since the process started.
            return cpu_percent(tree.cpu_seconds, time.time() - tree.started)
        before, then = previous
        return cpu_percent(tree.cpu_seconds - before, now - then)

    def _devices(self) -> list[DeviceSample] | None:
        if not self._want_gpus:
            return None
        if not self._gpus_opened:
            self._gpus_opened = True
            self._gpus = Gpus.open()
        return self._gpus.read() if self._gpus is not None else None


def _children_table() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible now."""
    table: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            table.setdefault(int(ppid), []).append(proc.pid)
    return table


def _tree(root: int, children: dict[int, list[int]]) -> _Tree | None:
    """The usage of ``root`` and every process below it; None once ``root`` is gone."""
    try:
        top = psutil.Process(root)
        started = top.create_time()
    except _GONE:
        return None
    pids = [root]
    cpu = 0.0
    rss = 0
    for pid in _descendants(root, children):
        pids.append(pid)
    for pid in pids:
        with contextlib.suppress(*_GONE):
            proc = top if pid == root else psutil.Process(pid)
            with proc.oneshot():
                times = proc.cpu_times()
                cpu += times.user + times.system + times.children_user + times.children_system
                rss += proc.memory_info().rss
    return _Tree(tuple(pids), cpu, rss, started)


def _descendants(root: int, children: dict[int, list[int]]) -> Iterable[int]:
    stack = list(children.get(root, ()))
    seen = {root}
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        yield pid
        stack.extend(children.get(pid, ()))


def _disk_percent(path: str) -> float | None:
    try:
        return float(psutil.disk_usage(path).percent)
    except OSError:
        return None
