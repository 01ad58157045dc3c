"""Waiting for a copy's requests in flight to finish before it stops.

A copy is stopped only once it is out of every routing snapshot; then its
fleet waits here until no request is in flight on it, or the drain timeout
passes. Requests this process routes are counted in ``Copy.inflight``;
requests routed by other processes (the router processes of ``moorage serve
--workers``, :mod:`moorage.routers`) are waited for through ``remote``,
which returns once each of them has stopped sending requests to the copy and
has none left in flight on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from moorage.clock import Clock
from moorage.fleet.base import Copy

# Given a copy and the seconds left, returns once no other process has a request on it.
RemoteDrain = Callable[[Copy, float], Awaitable[None]]

POLL_S = 0.02


async def drain(copy: Copy, clock: Clock, timeout_s: float, remote: RemoteDrain | None) -> None:
    """Return once ``copy`` has no request in flight here or elsewhere, or after ``timeout_s``."""
    deadline = clock.now() + timeout_s
    while copy.inflight > 0 and clock.now() < deadline:
        await asyncio.sleep(POLL_S)
    if remote is not None:
        await remote(copy, max(0.0, deadline - clock.now()))
