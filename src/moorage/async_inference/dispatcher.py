"""Runs queued asynchronous requests on the endpoint's copies.

One loop, woken when a request arrives or finishes and at least every
:data:`POLL_S`, goes over the endpoints with a backlog:

- requests that waited past their ``RequestTTLSeconds`` expire: their
  failure is written and they leave the queue (``ExpiredRequests``);
- requests of an endpoint that was deleted (no endpoint of that name, or
  one created after the request arrived) fail the same way, once the
  endpoint's record is gone: DeleteEndpoint lets the requests running on
  its copies finish (a copy is drained before it stops) and fails those
  still waiting, and a new endpoint of the same name never runs them;
- while the endpoint is serving and one of its copies has fewer than
  ``MaxConcurrentInvocationsPerInstance`` requests of this queue in flight,
  the oldest waiting request is claimed (FIFO per endpoint) and run on
  that copy: variant by weight among the variants with room, then the copy
  with the fewest requests in flight. An endpoint scaled to zero instances
  keeps its requests waiting (``HasBacklogWithoutCapacity`` is 1).

A run reads the input (S3, a local file, or the inline body), invokes the
model through the same HTTP client as InvokeEndpoint
(:class:`~moorage.runtime.upstream.Upstream`) with the request's
``InvocationTimeoutSeconds`` and no 6 MB cap, writes the answer to the
output location (or the failure to the failure location), marks the request
written, and hands it to the :class:`~moorage.async_inference.notifier.Notifier`.
An unreadable input, a model error, a timeout or an unwritable result
all end in the failure path, never in an exception. A request found running
at a restart first checks its two locations: if one holds an object, the
request was finished before the restart and is only marked written.

Copies count this queue's requests in their ``inflight`` too, so a copy is
drained of them before it stops, as of real-time requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from moorage.async_inference.config import AsyncConfig
from moorage.async_inference.metrics import AsyncMetrics
from moorage.async_inference.notifier import Notifier
from moorage.async_inference.payloads import PayloadError, Payloads
from moorage.async_inference.queue import AsyncQueue, Claimed
from moorage.async_inference.request import AsyncRequest, Outcome, State, Status
from moorage.async_inference.routes import AsyncRouter
from moorage.clock import Clock
from moorage.fleet.base import Copy
from moorage.runtime.invoke import SERVING_STATUSES
from moorage.runtime.snapshot import EndpointRoute, VariantRoute, pick_copy
from moorage.runtime.upstream import CopyBroken, CopyTimeout, CopyUnavailable, Reply, Upstream
from moorage.store.base import StoreUnavailable

log = logging.getLogger(__name__)

POLL_S = 1.0
# A request whose copy could not be reached waits this long before it is tried again.
RETRY_UNREACHABLE_S = 1.0
# How long a recovered request keeps trying to learn whether its result exists.
CHECK_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
# How long a stop waits for requests in flight before leaving them to the next start.
STOP_GRACE_S = 10.0

DEFAULT_CONTENT_TYPE = "application/json"
FAILURE_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class _Slot:
    variant: VariantRoute
    copy: Copy


class Dispatcher:
    def __init__(
        self,
        queue: AsyncQueue,
        router: AsyncRouter,
        upstream: Upstream,
        payloads: Payloads,
        notifier: Notifier,
        metrics: AsyncMetrics,
        clock: Clock,
        *,
        configs: Callable[[str], AsyncConfig | None],
        first_variant: Callable[[str], str],
        created: Callable[[str], float | None],
        sample_interval_s: float = 10.0,
    ) -> None:
        self.queue = queue
        self.router = router
        self.upstream = upstream
        self.payloads = payloads
        self.notifier = notifier
        self.metrics = metrics
        self.clock = clock
        self.configs = configs
        self.first_variant = first_variant
        # When the endpoint of that name was created; None when there is none.
        self.created = created
        self.sample_interval_s = sample_interval_s
        self.rng = random.Random()
        # Requests of this queue in flight, per copy (by id).
        self._inflight: dict[str, int] = {}
        self._expiring: set[str] = set()
        # When each endpoint's waiting requests were last scanned for expiry (monotonic).
        self._scanned: dict[str, float] = {}
        # The creation time of each endpoint with a backlog, per published route.
        self._created: dict[str, tuple[EndpointRoute, float | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._sampled_at = 0.0

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="async-dispatcher")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._tasks:
            # Unfinished requests stay Running in the store; the next start resumes them.
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    # -- the loop ------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                self._pass()
            except Exception:
                log.exception("async dispatcher: a pass failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)

    def _pass(self) -> None:
        now = self.clock.now()
        # The expiry scan reads every waiting request: once a second per endpoint,
        # not on every wake, so that a burst of arrivals costs linear time.
        scan_at = time.monotonic()
        for endpoint in self.queue.endpoints():
            if scan_at - self._scanned.get(endpoint, float("-inf")) >= POLL_S:
                self._scanned[endpoint] = scan_at
                self._expire(endpoint, now)
            self._dispatch(endpoint, now)
        if now - self._sampled_at >= self.sample_interval_s:
            self._sampled_at = now
            backlog = self.queue.endpoints()
            self._scanned = {e: t for e, t in self._scanned.items() if e in backlog}
            for name in {*self.router.async_endpoints(), *backlog}:
                self.sample(name)

    def _expire(self, endpoint: str, now: float) -> None:
        created = self._endpoint_created(endpoint)
        for request in self.queue.waiting(endpoint):
            if request.request_id in self._expiring:
                continue
            if created is None or request.received < created:
                self._expiring.add(request.request_id)
                self._spawn(self._abandon_one(request))
        for request in self.queue.waiting(endpoint):
            # One found running at a restart left the queue before the restart.
            if request.state is State.RUNNING or request.request_id in self._expiring:
                continue
            if request.expired(now):
                self._expiring.add(request.request_id)
                self._spawn(self._expire_one(request))

    def _endpoint_created(self, endpoint: str) -> float | None:
        """When the endpoint now named so was created (None: there is none).

        Read from the store on every pass while the endpoint has no route (it
        may be gone), and once per published route otherwise: routes are
        replaced on every change, and one exists only for a live endpoint.
        """
        route = self.router.async_route(endpoint)
        if route is None:
            self._created.pop(endpoint, None)
            return self.created(endpoint)
        cached = self._created.get(endpoint)
        if cached is None or cached[0] is not route:
            cached = self._created[endpoint] = (route, self.created(endpoint))
        return cached[1]

    def _dispatch(self, endpoint: str, now: float) -> None:
        route = self.router.async_route(endpoint)
        if route is None or route.status not in SERVING_STATUSES:
            return
        config = self.configs(route.name)
        cap = config.max_concurrency if config is not None else 1
        while True:
            head = self.queue.head(endpoint)
            if head is None or head.request_id in self._expiring:
                return
            slot = self._free_slot(route, cap)
            if slot is None:
                return
            try:
                claimed = self.queue.claim(endpoint, now)
            except StoreUnavailable:
                return  # the store logged why; the request waits
            if claimed is None:
                return
            self._hold(slot.copy)
            self._spawn(self._run(claimed, route, slot))
            self.sample(route.name)

    def _free_slot(self, route: EndpointRoute, cap: int) -> _Slot | None:
        open_variants = [
            v for v in route.live_variants if any(self._room(c, cap) for c in _copies(v))
        ]
        if not open_variants:
            return None
        total = sum(v.weight for v in open_variants)
        point = self.rng.random() * total
        variant = open_variants[-1]
        for candidate in open_variants:
            point -= candidate.weight
            if point < 0:
                variant = candidate
                break
        free = tuple(c for c in _copies(variant) if self._room(c, cap))
        copy = pick_copy(free, variant.routing, self.rng)
        return None if copy is None else _Slot(variant, copy)

    def _room(self, copy: Copy, cap: int) -> bool:
        return self._inflight.get(copy.copy_id, 0) < cap

    def _hold(self, copy: Copy) -> None:
        self._inflight[copy.copy_id] = self._inflight.get(copy.copy_id, 0) + 1
        copy.inflight += 1

    def _let_go(self, copy: Copy) -> None:
        left = self._inflight.get(copy.copy_id, 1) - 1
        if left > 0:
            self._inflight[copy.copy_id] = left
        else:
            self._inflight.pop(copy.copy_id, None)
        copy.inflight -= 1

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- metrics -------------------------------------------------------------------

    def sample(self, endpoint: str) -> None:
        """Record the endpoint's backlog metrics now."""
        waiting, running = self.queue.counts(endpoint)
        route = self.router.async_route(endpoint)
        name = route.name if route is not None else self._display_name(endpoint)
        instances = 0 if route is None else sum(len(_copies(v)) for v in route.live_variants)
        oldest = self.queue.oldest_received(endpoint)
        age = 0.0 if oldest is None else max(0.0, self.clock.now() - oldest)
        self.metrics.backlog(name, waiting + running, instances, age)

    def _display_name(self, endpoint: str) -> str:
        head = self.queue.head(endpoint)
        if head is not None:
            return head.endpoint
        running = self.queue.running(endpoint)
        return running[0].endpoint if running else endpoint

    # -- one request ---------------------------------------------------------------

    async def _expire_one(self, request: AsyncRequest) -> None:
        reason = (
            f"ClientError: Request {request.inference_id} expired: it waited in the queue "
            f"longer than its RequestTTLSeconds ({request.ttl_s} seconds)."
        )
        variant = self.first_variant(request.endpoint)
        try:
            outcome = await self._fail(request, variant, reason, reason.encode(), None)
            try:
                done = self.queue.expire(request, outcome, self.clock.now())
            except StoreUnavailable:
                return
            self.metrics.count("ExpiredRequests", request.endpoint, variant)
            await self._finish(done, variant)
        except Exception:
            log.exception("async inference %s: expiry failed", request.inference_id)
        finally:
            self._expiring.discard(request.request_id)
            self.wake()

    async def _abandon_one(self, request: AsyncRequest) -> None:
        """A waiting request whose endpoint was deleted: its failure is written."""
        reason = (
            f"ClientError: Endpoint {request.endpoint} was deleted before request "
            f"{request.inference_id} was processed."
        )
        variant = self.first_variant(request.endpoint)
        try:
            outcome: Outcome | None = None
            if request.state is State.RUNNING:
                # Found running at a restart: it may have been answered before.
                outcome = await self._written_before(request)
            if outcome is None:
                outcome = await self._fail(request, variant, reason, reason.encode(), None)
            try:
                done = self.queue.expire(request, outcome, self.clock.now())
            except StoreUnavailable:
                return
            await self._finish(done, variant)
        except Exception:
            log.exception("async inference %s: could not be failed", request.inference_id)
        finally:
            self._expiring.discard(request.request_id)
            self.wake()

    async def _run(self, claimed: Claimed, route: EndpointRoute, slot: _Slot) -> None:
        request = claimed.request
        variant = slot.variant.name
        held = True
        try:
            done: AsyncRequest | None = None
            if claimed.recovered:
                found = await self._written_before(request)
                if found is not None:
                    done = self.queue.written(request, found, self.clock.now())
            if done is None:
                outcome = await self._invoke(request, route, slot)
                if outcome is None:
                    # No copy of the variant could be reached: the request waits again.
                    await self.clock.sleep(RETRY_UNREACHABLE_S)
                    self.queue.release(request)
                    return
                done = self.queue.written(request, outcome, self.clock.now())
            # The copy is free for the next request before the notification goes out.
            self._let_go(slot.copy)
            held = False
            self.sample(route.name)
            self.wake()
            await self._finish(done, variant)
        except StoreUnavailable:
            log.warning(
                "async inference %s: its state could not be saved; the next start resumes it",
                request.inference_id,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("async inference %s failed unexpectedly", request.inference_id)
        finally:
            if held:
                self._let_go(slot.copy)
                self.sample(route.name)
                self.wake()

    async def _invoke(
        self, request: AsyncRequest, route: EndpointRoute, slot: _Slot
    ) -> Outcome | None:
        variant = slot.variant.name
        # The input.
        if request.inline_body is not None:
            body, stored_type = request.inline_body, None
        else:
            started = time.perf_counter()
            try:
                body, stored_type = await asyncio.to_thread(
                    self.payloads.read, str(request.input_location)
                )
            except PayloadError as exc:
                self.metrics.count("RequestDownloadFailures", request.endpoint, variant)
                reason = f"ClientError: Could not download the request payload: {exc}."
                return await self._fail(request, variant, reason, reason.encode(), None)
            self.metrics.latency(
                "RequestDownloadLatency", request.endpoint, variant, time.perf_counter() - started
            )
        headers = _headers(request, stored_type)
        # The model.
        copy = slot.copy
        reply: Reply | None = None
        started = time.perf_counter()
        for attempt in range(2):
            try:
                reply = await self.upstream.invoke(copy, body, headers, float(request.timeout_s))
                break
            except CopyUnavailable:
                if attempt == 1:
                    return None
                other = pick_copy(_copies(slot.variant), slot.variant.routing, self.rng, copy)
                if other is None:
                    return None
                copy = other
            except CopyTimeout:
                reason = (
                    f"ClientError: Your invocation timed out while waiting for a response from "
                    f"container {variant} after {request.timeout_s} seconds "
                    "(InvocationTimeoutSeconds)."
                )
                self.metrics.model_answered(
                    request.endpoint, variant, 0, time.perf_counter() - started
                )
                return await self._fail(request, variant, reason, reason.encode(), None)
            except CopyBroken as exc:
                reason = f"ClientError: The model container gave no complete answer: {exc}"
                return await self._fail(request, variant, reason, reason.encode(), None)
        assert reply is not None
        self.metrics.model_answered(
            request.endpoint, variant, reply.status, time.perf_counter() - started
        )
        content_type = reply.headers.get("content-type", DEFAULT_CONTENT_TYPE)
        if not 200 <= reply.status < 300:
            kind = "client" if 400 <= reply.status < 500 else "server"
            reason = (
                f"ClientError: Received {kind} error ({reply.status}) from model. See the "
                "SageMaker Endpoint logs in your account for more information."
            )
            return await self._fail(request, variant, reason, reply.body, content_type)
        # The answer.
        started = time.perf_counter()
        try:
            await asyncio.to_thread(
                self.payloads.write,
                request.output_location,
                reply.body,
                content_type,
                request.kms_key_id,
            )
        except PayloadError as exc:
            self.metrics.count("ResponseUploadFailures", request.endpoint, variant)
            reason = f"ClientError: Could not upload the inference response: {exc}."
            return await self._fail(request, variant, reason, reason.encode(), None)
        self.metrics.latency(
            "ResponseUploadLatency", request.endpoint, variant, time.perf_counter() - started
        )
        keep = request.notifications.include_in_success
        return Outcome(
            Status.COMPLETED,
            content_type=content_type,
            body=reply.body if keep else None,
            finished=self.clock.now(),
        )

    async def _fail(
        self,
        request: AsyncRequest,
        variant: str,
        reason: str,
        body: bytes,
        content_type: str | None,
    ) -> Outcome:
        """Write the failure to the request's failure location."""
        written_type = content_type or FAILURE_CONTENT_TYPE
        try:
            await asyncio.to_thread(
                self.payloads.write,
                request.failure_location,
                body,
                written_type,
                request.kms_key_id,
            )
        except PayloadError as exc:
            self.metrics.count("ResponseUploadFailures", request.endpoint, variant)
            log.warning("async inference %s: %s", request.inference_id, exc)
            reason = f"{reason} The failure could not be written either: {exc}."
        keep = request.notifications.include_in_error
        return Outcome(
            Status.FAILED,
            content_type=content_type,
            failure_reason=reason,
            body=body if keep else None,
            finished=self.clock.now(),
        )

    async def _written_before(self, request: AsyncRequest) -> Outcome | None:
        """For a request found running at a restart: the outcome if a result exists."""
        for delay in (*CHECK_BACKOFF_S, None):
            try:
                if await asyncio.to_thread(self.payloads.exists, request.output_location):
                    return Outcome(Status.COMPLETED, finished=self.clock.now())
                if await asyncio.to_thread(self.payloads.exists, request.failure_location):
                    return Outcome(
                        Status.FAILED,
                        failure_reason="ClientError: The request failed before a restart.",
                        finished=self.clock.now(),
                    )
                return None
            except PayloadError as exc:
                if delay is None:
                    raise
                log.warning(
                    "async inference %s: %s; checking again in %gs",
                    request.inference_id,
                    exc,
                    delay,
                )
                await self.clock.sleep(delay)
        return None

    async def _finish(self, request: AsyncRequest, variant: str) -> None:
        """Notify, then record the request as processed."""
        await self.notifier.attempt(request)
        outcome = request.outcome
        assert outcome is not None
        started = request.started if request.started is not None else outcome.finished
        self.metrics.processed(
            request.endpoint,
            variant,
            failed=outcome.status is Status.FAILED,
            time_in_backlog_s=started - request.received,
            total_s=self.clock.now() - request.received,
        )


def _copies(variant: VariantRoute) -> tuple[Copy, ...]:
    return tuple(c for g in variant.live_groups for c in g.copies)


def _headers(request: AsyncRequest, stored_type: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    content_type = request.content_type or stored_type
    if content_type:
        headers["content-type"] = content_type
    if request.accept:
        headers["accept"] = request.accept
    if request.custom_attributes:
        headers["x-amzn-sagemaker-custom-attributes"] = request.custom_attributes
    headers["x-amzn-sagemaker-inference-id"] = request.inference_id
    return headers
