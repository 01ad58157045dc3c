"""Asynchronous inference, put together: the queue, dispatcher, notifier and handler.

The server (:mod:`moorage.server`) makes its router an
:class:`~moorage.async_inference.routes.AsyncRouter` (:func:`async_router`),
builds one :class:`AsyncInference` over it, its store, upstream client and
metric store, and hands
:attr:`AsyncInference.handler` to the runtime's invocation handler for
``/endpoints/{name}/async-invocations``. :meth:`~AsyncInference.start`
reloads the queue from the store and resumes what a previous run left;
:meth:`~AsyncInference.stop` gives requests in flight a few seconds and
leaves the rest to the next start. See docs/async-inference.md.
"""

from __future__ import annotations

from moorage.async_inference.dispatcher import Dispatcher
from moorage.async_inference.endpoints import AsyncEndpoints
from moorage.async_inference.handler import AsyncInvocations
from moorage.async_inference.metrics import AsyncMetrics
from moorage.async_inference.notifier import Notifier
from moorage.async_inference.notify import SnsPublisher
from moorage.async_inference.payloads import Payloads
from moorage.async_inference.queue import AsyncQueue
from moorage.async_inference.request import AsyncRequest
from moorage.async_inference.routes import AsyncRouter
from moorage.clock import Clock
from moorage.file_roots import FileRoots
from moorage.monitoring.store import MetricStore
from moorage.runtime.upstream import Upstream
from moorage.store.base import Store


class AsyncInference:
    def __init__(
        self,
        router: AsyncRouter,
        store: Store,
        upstream: Upstream,
        metric_store: MetricStore,
        clock: Clock,
        *,
        region: str,
        account_id: str,
        file_roots: FileRoots,
        sample_interval_s: float = 10.0,
    ) -> None:
        self.router = router
        self.endpoints = router.endpoints
        self.queue = AsyncQueue(store)
        self.metrics = AsyncMetrics(metric_store)
        self.notifier = Notifier(
            self.queue, SnsPublisher(), clock, region=region, on_failure=self._notify_failed
        )
        self.dispatcher = Dispatcher(
            self.queue,
            self.router,
            upstream,
            Payloads(),
            self.notifier,
            self.metrics,
            clock,
            configs=self.endpoints.config,
            first_variant=self._first_variant,
            created=self._created,
            sample_interval_s=sample_interval_s,
        )
        self.handler = AsyncInvocations(
            self.queue,
            self.endpoints,
            clock,
            account_id=account_id,
            file_roots=file_roots,
            accepted=self._accepted,
        )

    def start(self) -> None:
        """Reload what the store holds and start working (on the server's event loop)."""
        self.queue.load()
        self.notifier.start()
        self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.notifier.stop()

    def _accepted(self, endpoint: str) -> None:
        self.dispatcher.sample(endpoint)
        self.dispatcher.wake()

    def _first_variant(self, endpoint: str) -> str:
        found = self.endpoints.get(endpoint)
        return found.first_variant if found is not None else ""

    def _created(self, endpoint: str) -> float | None:
        found = self.endpoints.get(endpoint)
        return found.endpoint.created if found is not None else None

    def _notify_failed(self, request: AsyncRequest, cause: str) -> None:
        self.metrics.count(
            "NotificationFailures", request.endpoint, self._first_variant(request.endpoint)
        )


def async_router(store: Store) -> AsyncRouter:
    """The server's router: it tells asynchronous endpoints apart by their config."""
    return AsyncRouter(AsyncEndpoints(store))
