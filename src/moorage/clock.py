"""Time, injected.

Every wait and every timestamp in moorage goes through a :class:`Clock`, so
that rollouts (bake periods, termination waits, execution timeouts) and
experiment schedules can be driven by a :class:`FakeClock` in tests: a
two-hour canary runs in milliseconds. The server uses :class:`SystemClock`,
or :class:`ScaledClock` when started with ``--clock-speed`` (schedules
tried out in minutes instead of days).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import os
import time
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time (epoch seconds) plus an awaitable sleep."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to.

    ``sleep`` parks the caller until :meth:`advance` moves time past its
    deadline; ``advance`` wakes sleepers in deadline order.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def set(self, when: float) -> None:
        """Jump to ``when`` (never backwards), waking due sleepers."""
        self._now = max(self._now, when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.set(self._now + seconds)


class ScaledClock:
    """Real time sped up ``speed`` times, for trying out schedules (``--clock-speed``).

    ``now() = clock_anchor + (time.time() - real_anchor) * speed``. The
    anchors are kept in a file of the data dir so that a restarted server
    continues the same timeline instead of jumping back to real time; a
    different speed starts a new timeline from the old one's present.
    Sleeps are shortened by the same factor.
    """

    def __init__(self, speed: float, real_anchor: float, clock_anchor: float) -> None:
        if speed <= 0:
            raise ValueError("the clock speed must be positive")
        self.speed = speed
        self.real_anchor = real_anchor
        self.clock_anchor = clock_anchor

    def now(self) -> float:
        return self.clock_anchor + (time.time() - self.real_anchor) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    @classmethod
    def persistent(cls, path: Path, speed: float) -> ScaledClock:
        """The clock whose anchors ``path`` records (made, or re-anchored, as needed)."""
        now_real = time.time()
        clock_now = now_real
        try:
            saved = json.loads(path.read_text())
            previous = cls(
                float(saved["speed"]), float(saved["real_anchor"]), float(saved["clock_anchor"])
            )
            if previous.speed == speed:
                return previous
            clock_now = max(now_real, previous.now())
        except (OSError, ValueError, KeyError, TypeError):
            pass
        clock = cls(speed, now_real, clock_now)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(
            json.dumps({"speed": speed, "real_anchor": now_real, "clock_anchor": clock_now})
        )
        os.replace(temp, path)
        return clock
