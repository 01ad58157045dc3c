"""How often the dashboard's login may be tried: per client address and in all.

Every attempt counts, right or wrong, before the key is checked. An address
may try :data:`PER_ADDRESS` times in any :data:`WINDOW_SECONDS`, and all
addresses together :data:`OVERALL` times (on loopback every browser is
``127.0.0.1``, and an attacker may have many addresses). Past either limit
the attempt is refused with the seconds until one is allowed again, and the
key is not looked at. Time is a monotonic clock, injected for tests; the
addresses remembered are bounded (:data:`MAX_ADDRESSES`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
PER_ADDRESS = 20
OVERALL = 100
MAX_ADDRESSES = 4096


class LoginLimiter:
    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        window_s: float = WINDOW_SECONDS,
        per_address: int = PER_ADDRESS,
        overall: int = OVERALL,
    ) -> None:
        self._now = now
        self.window_s = window_s
        self.per_address = per_address
        self.overall = overall
        self._all: deque[float] = deque()
        self._by_address: dict[str, deque[float]] = {}

    def attempt(self, address: str) -> float | None:
        """Count an attempt from ``address``: None if allowed, else seconds to wait."""
        now = self._now()
        since = now - self.window_s
        _drop_before(self._all, since)
        mine = self._by_address.get(address)
        if mine is not None:
            _drop_before(mine, since)
        if len(self._all) >= self.overall:
            return self._wait(self._all, now)
        if mine is not None and len(mine) >= self.per_address:
            return self._wait(mine, now)
        if mine is None:
            if len(self._by_address) >= MAX_ADDRESSES:
                self._forget_idle(since)
            mine = self._by_address[address] = deque()
        mine.append(now)
        self._all.append(now)
        return None

    def _wait(self, times: deque[float], now: float) -> float:
        return max(1.0, math.ceil(times[0] + self.window_s - now))

    def _forget_idle(self, since: float) -> None:
        for address in [a for a, t in self._by_address.items() if not t or t[-1] < since]:
            del self._by_address[address]
        if len(self._by_address) >= MAX_ADDRESSES:
            # Every address is active: the overall limit still holds them all.
            self._by_address.clear()


def _drop_before(times: deque[float], since: float) -> None:
    while times and times[0] <= since:
        times.popleft()
