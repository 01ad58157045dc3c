"""The handler pool's watch: how long each worker has been busy, and whether the pool is stuck.

:class:`~moorage.container.app.ModelServerApp` runs every invocation, and each
item of a streamed answer, through :meth:`Workers.run`, which notes when the
job was queued and, on its worker thread, when it started. A Python thread
cannot be interrupted, only abandoned, so a handler that never returns holds
its worker for good. The pool is *stuck* when every worker has been busy on
one job for longer than ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` while requests wait
for a worker; it stays stuck until a worker frees up. While it is:

- ``/ping`` answers 500 (:attr:`Workers.stuck` says why), so that the
  platform replaces the process (moorage's local fleet does after a few failed
  pings, :mod:`moorage.fleet.health`);
- a request that has waited for a worker for longer than the timeout is
  answered 504 (:class:`PoolStuck`) instead of waiting forever, and is never
  run.

:meth:`Workers.watch` is the one task that checks, a few times per timeout
while there are jobs (an idle server does not wake for it); the request path
only records times. :mod:`moorage.container.server` builds
the pool and starts the watch; the timeout comes from
:mod:`moorage.container.options`.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from moorage.container.errors import InvocationError
from moorage.container.inline import InlinePolicy

T = TypeVar("T")

# The watch looks this many times per timeout, within these bounds (seconds).
_CHECKS_PER_TIMEOUT = 4
_MIN_CHECK_S = 0.05
_MAX_CHECK_S = 1.0


class PoolStuck(InvocationError):
    """A request waited for a worker past the timeout while every worker was held."""

    def __init__(self, message: str) -> None:
        super().__init__(504, message)


class Workers:
    """Runs handler jobs on ``executor`` (``size`` threads) and watches them."""

    def __init__(
        self,
        executor: Executor,
        size: int,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.executor = executor
        self.size = size
        self.timeout_s = timeout_s
        self._clock = clock
        # Worker thread id → when its current job started (written by the workers).
        self._busy: dict[int, float] = {}
        # Jobs not yet over → when they were queued (the event loop's alone).
        self._jobs: dict[Future[Any], float] = {}
        # Jobs taken off the queue by the watch; their requests are answered 504.
        self._given_up: set[Future[Any]] = set()
        # Why the pool is stuck, while it is; None otherwise.
        self.stuck: str | None = None
        # Whether quick handler calls run on the event loop instead (inline.py).
        self.inline = InlinePolicy()
        # Set when a job arrives, so that the watch sleeps while there is none.
        self._arrived = asyncio.Event()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker, or inline once calls proved quick (:mod:`.inline`).

        Raises :class:`PoolStuck` if the job was given up.
        """
        if self.inline.inline and not self._jobs:
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.inline.record(time.perf_counter() - started, inline=True)
        future = self.executor.submit(self._job, fn, args)
        if not self._jobs:
            self._arrived.set()
        self._jobs[future] = self._clock()
        try:
            result, seconds = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future not in self._given_up:
                raise
            raise PoolStuck(self._waited_too_long()) from None
        finally:
            del self._jobs[future]
            self._given_up.discard(future)
        self.inline.record(seconds, inline=False)
        return result

    def _job(self, fn: Callable[..., T], args: tuple[Any, ...]) -> tuple[T, float]:
        ident = threading.get_ident()
        self._busy[ident] = self._clock()
        started = time.perf_counter()
        try:
            return fn(*args), time.perf_counter() - started
        finally:
            del self._busy[ident]

    def check(self) -> None:
        """Decide whether the pool is stuck; give up the jobs that waited too long if so."""
        now = self._clock()
        starts = list(self._busy.values())
        held = len(starts) >= self.size and all(now - s > self.timeout_s for s in starts)
        if not held:
            if self.stuck is not None:
                _say("a handler worker is free again; healthy")
            self.stuck = None
            return
        waiting = [(f, at) for f, at in list(self._jobs.items()) if not (f.running() or f.done())]
        if self.stuck is None:
            if not waiting:
                return
            self.stuck = (
                f"All {self.size} handler workers have been busy on one request each for "
                f"longer than SAGEMAKER_MODEL_SERVER_TIMEOUT ({self.timeout_s:g} s) "
                "while requests wait for a worker."
            )
            _say(f"unhealthy: {self.stuck}")
        for future, queued in waiting:
            # cancel() is refused once a worker has taken the job: it then runs.
            if now - queued > self.timeout_s and future.cancel():
                self._given_up.add(future)

    async def watch(self) -> None:
        """Check the pool a few times per timeout while it has jobs, until cancelled."""
        interval = min(_MAX_CHECK_S, max(_MIN_CHECK_S, self.timeout_s / _CHECKS_PER_TIMEOUT))
        while True:
            if not self._jobs and self.stuck is None:
                # Nothing can become stuck before a job arrives.
                self._arrived.clear()
                await self._arrived.wait()
            await asyncio.sleep(interval)
            self.check()

    def _waited_too_long(self) -> str:
        return (
            f"No handler worker became free within SAGEMAKER_MODEL_SERVER_TIMEOUT "
            f"({self.timeout_s:g} s): all {self.size} workers have been busy on one request "
            "each for longer than that."
        )


def _say(line: str) -> None:
    sys.stderr.write(f"moorage model server: {line}\n")
    sys.stderr.flush()
