"""Publishing notifications, retried with backoff, never in the queue's way.

A written request waits here (and in the store, state ``Written``) until its
notification is published; then its record goes. A topic that cannot be
reached costs one ``NotificationFailures`` per failed attempt and a warning
the first time; the attempt is repeated after 1, 2, 4 ... seconds, at most
:data:`MAX_BACKOFF_S` apart, for :data:`GIVE_UP_AFTER_S` after the request
finished, and then dropped with an error in the log (the result itself is
in its output or failure location all along). Requests with no topic for
their outcome leave at once. Publishing runs in worker threads; the queue's
dispatcher never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from moorage.async_inference.notify import NotifyError, SnsPublisher, message, topic_of
from moorage.async_inference.queue import AsyncQueue
from moorage.async_inference.request import AsyncRequest
from moorage.clock import Clock
from moorage.store.base import StoreUnavailable

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
GIVE_UP_AFTER_S = 24 * 3600.0


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1`` (after ``attempts`` failures)."""
    return float(min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** max(0, attempts - 1)))


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    request: AsyncRequest = field(compare=False)
    attempts: int = field(compare=False, default=0)


class Notifier:
    def __init__(
        self,
        queue: AsyncQueue,
        publisher: SnsPublisher,
        clock: Clock,
        *,
        region: str,
        on_failure: Callable[[AsyncRequest, str], None],
    ) -> None:
        self.queue = queue
        self.publisher = publisher
        self.clock = clock
        self.region = region
        self.on_failure = on_failure
        self._due: list[_Due] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._warned: set[str] = set()

    def start(self) -> None:
        for request in self.queue.unnotified():
            self.add(request)
        self._task = asyncio.create_task(self._loop(), name="async-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def pending(self) -> int:
        return len(self._due)

    def add(self, request: AsyncRequest) -> None:
        heapq.heappush(self._due, _Due(self.clock.now(), request.seq, request))
        self._wake.set()

    async def attempt(self, request: AsyncRequest) -> bool:
        """Publish once now (the dispatcher's first try); False schedules retries."""
        if await self._publish(request, 0):
            return True
        heapq.heappush(self._due, _Due(self.clock.now() + backoff(1), request.seq, request, 1))
        self._wake.set()
        return False

    async def _loop(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:
                log.exception("async notifications: a round failed; retrying")
            delay = 1.0
            if self._due:
                delay = max(0.05, min(1.0, self._due[0].at - self.clock.now()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _round(self) -> None:
        now = self.clock.now()
        while self._due and self._due[0].at <= now:
            due = heapq.heappop(self._due)
            if await self._publish(due.request, due.attempts):
                continue
            finished = due.request.outcome.finished if due.request.outcome else now
            if self.clock.now() - finished > GIVE_UP_AFTER_S:
                log.error(
                    "async inference %s: notification dropped after %d attempts",
                    due.request.inference_id,
                    due.attempts + 1,
                )
                self._done(due.request)
                continue
            attempts = due.attempts + 1
            heapq.heappush(
                self._due,
                _Due(self.clock.now() + backoff(attempts), due.seq, due.request, attempts),
            )

    async def _publish(self, request: AsyncRequest, attempts: int) -> bool:
        """True when nothing is left to do for ``request``."""
        outcome = request.outcome
        topic = None if outcome is None else topic_of(request, outcome)
        if outcome is None or topic is None:
            self._done(request)
            return True
        body = message(request, outcome, self.region)
        try:
            await asyncio.to_thread(self.publisher.publish, topic, body)
        except NotifyError as exc:
            self.on_failure(request, str(exc))
            if topic not in self._warned:
                self._warned.add(topic)
                log.warning("async inference notification failed (will retry): %s", exc)
            return False
        self._warned.discard(topic)
        self._done(request)
        return True

    def _done(self, request: AsyncRequest) -> None:
        try:
            self.queue.done(request)
        except StoreUnavailable:
            # The record stays; the next start publishes again (SNS delivers at least once).
            log.warning("async inference %s: its record could not be removed", request.inference_id)
