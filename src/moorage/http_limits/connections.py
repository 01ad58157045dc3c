"""The open connections of the port: the cap, and the timeouts, on one timer.

:class:`Connections` is shared by every connection's protocol
(:mod:`moorage.http_limits.protocol`). It decides each new connection's
:class:`~moorage.http_limits.admission.Admission` and, while any connection
is open, checks them all on a timer (every quarter of the shortest timeout,
at most a second apart) rather than arming a timer per request: the
request path only updates a few integers that the check reads.

Each check asks every connection what it waits for (:meth:`Watched.watch`):
its request's head, its body, its next request (idle), or the client to
read an answer it stopped reading. When the answer has not changed for that
wait's timeout, the connection expires. The head's answer changes only with
a new request (so the header timeout bounds the whole head, however slowly
it trickles in); the body's with every byte (so the body timeout is the
longest pause); an idle one only with a new request; a stalled answer's
whenever the client reads some of it. Nothing is watched while the
application works on a request, or while reading is paused because the
application has not taken the body yet.

Past the cap, a new connection first takes the place of the connection idle
the longest, which is closed (as its keep-alive timeout would have done);
only when none is idle does it join the reserve.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from moorage.http_limits.admission import Admission
from moorage.http_limits.limits import HttpLimits

log = logging.getLogger(__name__)

# What a connection waits for; the index of its timeout in Connections._timeouts.
WAIT_HEAD = 0
WAIT_BODY = 1
WAIT_IDLE = 2
WAIT_SEND = 3  # the client to read the answer (it stopped reading): the body timeout

# A connection's wait and its progress (see Watched.watch).
Wait = tuple[int, int]

# At most one warning about the cap per this many seconds.
_WARN_EVERY_S = 60.0


class Watched(Protocol):
    def watch(self) -> Wait | None:
        """``(WAIT_*, progress)``, or None while nothing is expected from the client."""

    def expire(self, wait: int) -> None:
        """Close the connection: it waited too long for ``wait``."""


class _Mark:
    """The wait last seen on a connection, and since when."""

    __slots__ = ("since", "wait")

    def __init__(self, wait: Wait | None, since: float) -> None:
        self.wait = wait
        self.since = since


class Connections:
    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self._timeouts = (
            float(limits.header_timeout_s),
            float(limits.body_timeout_s),
            float(limits.keep_alive_timeout_s),
            float(limits.body_timeout_s),
        )
        # Oldest first; connections admitted as FULL are never added.
        self._open: dict[Watched, _Mark] = {}
        # Connections between requests, longest idle first: a protocol adds
        # itself when it has answered and waits for the next request, and
        # removes itself when a request begins (a dict, as that is cheap).
        self.idle: dict[Watched, None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._warned_at = float("-inf")

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, conn: Watched, loop: asyncio.AbstractEventLoop) -> Admission:
        """Count a new connection in (or not) and start watching it."""
        now = loop.time()
        cap = self.limits.max_connections
        if len(self._open) >= cap:
            self._close_longest_idle()
        count = len(self._open)
        if count >= cap + self.limits.reserve:
            self._warn(now, "refusing new connections")
            return Admission.FULL
        # The header timeout of a connection's first request runs from here.
        self._open[conn] = _Mark(conn.watch(), now)
        if self._timer is None:
            self._loop = loop
            self._timer = loop.call_later(self.limits.check_interval_s, self._check)
        if count < cap:
            return Admission.NORMAL
        self._warn(now, "serving only health checks and control-plane calls on new connections")
        return Admission.RESERVE

    def discard(self, conn: Watched) -> None:
        self._open.pop(conn, None)
        self.idle.pop(conn, None)

    def _close_longest_idle(self) -> None:
        idle = self.idle
        while idle:
            conn = next(iter(idle))
            del idle[conn]
            # It may have begun a request since it joined (a byte arrived).
            wait = conn.watch()
            if conn in self._open and wait is not None and wait[0] == WAIT_IDLE:
                del self._open[conn]
                conn.expire(WAIT_IDLE)
                return

    def _check(self) -> None:
        assert self._loop is not None
        self._timer = None
        now = self._loop.time()
        expired: list[tuple[Watched, int]] = []
        timeouts = self._timeouts
        for conn, mark in self._open.items():
            wait = conn.watch()
            if wait != mark.wait:
                mark.wait = wait
                mark.since = now
            elif wait is not None and now - mark.since >= timeouts[wait[0]]:
                expired.append((conn, wait[0]))
        for conn, kind in expired:
            self.discard(conn)
            conn.expire(kind)
        if self._open:
            self._timer = self._loop.call_later(self.limits.check_interval_s, self._check)

    def _warn(self, now: float, action: str) -> None:
        if now - self._warned_at < _WARN_EVERY_S:
            return
        self._warned_at = now
        log.warning(
            "%d connections open, the limit of --max-connections %d: %s (docs/limits.md)",
            len(self._open),
            self.limits.max_connections,
            action,
        )
