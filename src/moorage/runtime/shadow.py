"""Shadow mirroring: a sampled copy of production requests sent to shadow variants.

An endpoint whose config has ``ShadowProductionVariants`` (or that runs an
inference experiment) answers every caller from its production variant;
:meth:`ShadowMirror.mirror` is then called once the production answer is in
hand (:meth:`ShadowMirror.mirror_stream` once a streamed answer has ended
normally) and, for each shadow variant, draws whether this request is copied
(:func:`moorage.runtime.snapshot.sampling_fraction`). A copied request goes
into the shadow's bounded queue and the production answer goes back to the
caller at once: nothing on the caller's path waits on a shadow.

Per shadow variant a fixed number of worker tasks take requests from the
queue and send them to a copy of the shadow, picked on the routing snapshot
current at that moment, the way the caller asked: a streamed request is sent
to the copy as a stream too and read to its end. The shadow's answer is only
measured (the same per-variant metrics as production, under the shadow's
variant name) and, during an inference experiment with a
``DataStorageConfig``, captured (a streamed answer as its chunks joined,
once it has ended normally, as :mod:`moorage.runtime.capture` captures
production streams).

A shadow that is slow or down never slows production: when its queue is
full, or it has no healthy instance, or its instance cannot be reached, the
copied request is dropped and counted (``ShadowRequestsDropped``, see
:mod:`moorage.monitoring.sagemaker`). A drop happens on the request path for
every copy while a shadow lags, so it costs a few attribute reads and the
observer call. Neighbours: the router's snapshots
(:mod:`moorage.runtime.snapshot`), the upstream clients
(:mod:`moorage.runtime.upstream`), capture (:mod:`moorage.capture`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import aiohttp

from moorage.capture import CaptureConfig, CaptureQueue
from moorage.fleet.base import Copy
from moorage.runtime.capture import StreamedOutput
from moorage.runtime.router import Router
from moorage.runtime.snapshot import EndpointRoute, ShadowRoute
from moorage.runtime.upstream import CopyBroken, CopyTimeout, CopyUnavailable, Reply, Upstream

log = logging.getLogger(__name__)

# Copied requests waiting per shadow variant; beyond this they are dropped.
DEFAULT_QUEUE_SIZE = 256
# Copied requests in flight per shadow variant at once.
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 60.0
# A shadow request that timed out or whose answer broke off is recorded as the
# runtime answers the caller then (ModelError).
TIMEOUT_STATUS = 424


class ShadowObserver(Protocol):
    """Metrics for shadow requests (:class:`moorage.monitoring.InvocationMetrics`)."""

    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
        instances: int = 0,
    ) -> None: ...

    def shadow_dropped(self, endpoint: str, variant: str) -> None: ...


@dataclass(frozen=True)
class MirrorStats:
    """Counts since the mirror was made."""

    queued: int
    dropped: int
    answered: int


class _Copied(NamedTuple):
    headers: Mapping[str, str]
    body: bytes
    queued_at: float
    # Sent as InvokeEndpointWithResponseStream sends it (the copy streams its answer).
    stream: bool


class _Lane:
    """One shadow variant of one endpoint: its queue and its workers."""

    def __init__(self, endpoint: str, variant: str, size: int) -> None:
        self.endpoint = endpoint
        self.variant = variant
        self.queue: asyncio.Queue[_Copied] = asyncio.Queue(maxsize=size)
        self.workers: list[asyncio.Task[None]] = []


class ShadowMirror:
    def __init__(
        self,
        router: Router,
        upstream: Upstream,
        observer: ShadowObserver,
        *,
        capture: CaptureQueue | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        rng: random.Random | None = None,
    ) -> None:
        if queue_size < 1 or concurrency < 1:
            raise ValueError("queue_size and concurrency must be positive")
        self.router = router
        self.upstream = upstream
        self.observer = observer
        self.capture = capture
        self.queue_size = queue_size
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.rng = rng or random.Random()
        # (endpoint lower-cased, variant) → lane; _named finds it by the
        # endpoint's name as routed, without lower-casing on every request.
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._named: dict[tuple[str, str], _Lane] = {}
        self._shadow_dropped = observer.shadow_dropped
        # endpoint (lower-cased) → the running experiment's capture config.
        self._experiment_capture: dict[str, CaptureConfig] = {}
        self._closed = False
        self._queued = 0
        self._dropped = 0
        self._answered = 0

    # -- configuration (the experiment driver) ------------------------------

    def set_capture(self, endpoint: str, config: CaptureConfig | None) -> None:
        """Capture ``endpoint``'s production and shadow pairs with ``config`` (None: stop)."""
        if config is None:
            self._experiment_capture.pop(endpoint.lower(), None)
        else:
            self._experiment_capture[endpoint.lower()] = config

    def capturing(self) -> dict[str, CaptureConfig]:
        return dict(self._experiment_capture)

    # -- request path ---------------------------------------------------------

    def mirror(
        self,
        route: EndpointRoute,
        variant: str,
        headers: Mapping[str, str],
        body: bytes,
        reply: Reply,
    ) -> None:
        """Copy an answered production request to the route's shadows. Never blocks or raises."""
        try:
            if self._experiment_capture and 200 <= reply.status < 300:
                config = self.production_capture(route)
                if config is not None:
                    self._offer(
                        config,
                        route.name,
                        variant,
                        headers,
                        body,
                        reply.body,
                        reply.headers.get("content-type", "application/json"),
                    )
            self._copy(route, headers, body, False)
        except Exception:
            log.exception("mirroring a request to the shadow variants failed")

    def production_capture(self, route: EndpointRoute) -> CaptureConfig | None:
        """The experiment capture to keep this production answer for; None: not captured.

        Drawn once per request; for a streamed invocation before the stream
        starts, so that the chunks of an uncaptured stream are not kept.
        """
        return self._sampled_capture(route.name)

    def covers(self, endpoint: str, config: CaptureConfig) -> bool:
        """Whether the running experiment already captures what ``config`` would, there.

        An experiment's ``DataStorageConfig`` captures every answered
        production request. When the endpoint config's own
        ``DataCaptureConfig`` names the same destination, both would write
        the same pair under the same ``{endpoint}/{variant}/...`` keys; the
        experiment's record stands for both (one record per answer, as AWS,
        whose endpoint has one capture configuration, writes it).
        """
        experiment = self._experiment_capture.get(endpoint.lower())
        return (
            experiment is not None
            and self.capture is not None
            and experiment.destination.place == config.destination.place
        )

    def _sampled_capture(self, endpoint: str) -> CaptureConfig | None:
        """The running experiment's capture config if this answer is captured (one draw)."""
        if not self._experiment_capture or self.capture is None:
            return None
        config = self._experiment_capture.get(endpoint.lower())
        if config is None or not self.capture.sampled(config):
            return None
        return config

    def mirror_stream(
        self,
        route: EndpointRoute,
        variant: str,
        headers: Mapping[str, str],
        body: bytes,
        output: StreamedOutput | None,
        capture: CaptureConfig | None,
    ) -> None:
        """Copy a streamed production request that ended normally to the route's shadows.

        ``capture`` is what :meth:`production_capture` gave before the stream
        started and ``output`` the production answer's chunks; the copies are
        sent as streams. Never blocks or raises.
        """
        try:
            if capture is not None and output is not None and output.complete:
                self._offer(
                    capture, route.name, variant, headers, body, output.body, output.content_type
                )
            self._copy(route, headers, body, True)
        except Exception:
            log.exception("mirroring a streamed request to the shadow variants failed")

    def _copy(
        self, route: EndpointRoute, headers: Mapping[str, str], body: bytes, stream: bool
    ) -> None:
        for shadow in route.shadows:
            if shadow.fraction >= 1.0 or self.rng.random() < shadow.fraction:
                self._enqueue(route.name, shadow, headers, body, stream)

    def _enqueue(
        self,
        endpoint: str,
        shadow: ShadowRoute,
        headers: Mapping[str, str],
        body: bytes,
        stream: bool,
    ) -> None:
        name = shadow.variant.name
        lane = self._named.get((endpoint, name))
        if lane is None:
            if self._closed:
                self._drop(endpoint, name)
                return
            lane = self._lane(endpoint, name)
        # Checked before building the item: a lagging shadow drops every copy.
        if lane.queue.full():
            self._drop(endpoint, name)
            return
        lane.queue.put_nowait(_Copied(headers, body, time.perf_counter(), stream))
        self._queued += 1

    def _drop(self, endpoint: str, variant: str) -> None:
        self._dropped += 1
        try:
            self._shadow_dropped(endpoint, variant)
        except Exception:
            log.exception("shadow observer failed")

    def _lane(self, endpoint: str, variant: str) -> _Lane:
        key = (endpoint.lower(), variant)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(endpoint, variant, self.queue_size)
            lane.workers = [
                asyncio.create_task(self._work(lane), name=f"shadow-{endpoint}-{variant}-{i}")
                for i in range(self.concurrency)
            ]
        self._named[(endpoint, variant)] = lane
        return lane

    # -- workers --------------------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        while True:
            item = await lane.queue.get()
            try:
                await self._send(lane, item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a shadow request to %s/%s failed", lane.endpoint, lane.variant)
            finally:
                lane.queue.task_done()

    def _shadow_route(self, lane: _Lane) -> ShadowRoute | None:
        route = self.router.get(lane.endpoint)
        if route is None:
            return None
        for shadow in route.shadows:
            if shadow.variant.name == lane.variant:
                return shadow
        return None

    async def _send(self, lane: _Lane, item: _Copied) -> None:
        shadow = self._shadow_route(lane)
        copy = shadow.variant.pick_copy(self.rng) if shadow is not None else None
        if shadow is None or copy is None:
            self._drop(lane.endpoint, lane.variant)
            return
        group = shadow.variant.group_of(copy)
        config_name = group.config_name if group is not None else None
        copy.inflight += 1
        started = time.perf_counter()
        try:
            if item.stream:
                await self._send_stream(lane, item, copy, config_name, started)
                return
            reply = await self.upstream.invoke(copy, item.body, item.headers, self.timeout_s)
        except CopyUnavailable:
            self._drop(lane.endpoint, lane.variant)
            return
        except (CopyTimeout, CopyBroken):
            self._observe(lane, config_name, TIMEOUT_STATUS, started, item)
            return
        finally:
            copy.inflight -= 1
        self._answered += 1
        self._observe(lane, config_name, reply.status, started, item)
        config = self._sampled_capture(lane.endpoint) if 200 <= reply.status < 300 else None
        if config is not None:
            self._offer(
                config,
                lane.endpoint,
                lane.variant,
                item.headers,
                item.body,
                reply.body,
                reply.headers.get("content-type", "application/json"),
            )

    async def _send_stream(
        self, lane: _Lane, item: _Copied, copy: Copy, config_name: str | None, started: float
    ) -> None:
        """Invoke ``copy`` as a streamed invocation and read its stream to the end.

        Recorded as :mod:`moorage.runtime.stream` records a production
        stream: the copy's status when it answers non-2xx, else 200 once the
        stream is over, with the time to its end as ``ModelLatency`` — also
        when it broke midway (a caller would have had a ``ModelStreamError``
        event after a 200; here the break is logged, and nothing captured).
        """
        config = self._sampled_capture(lane.endpoint)
        output = None if config is None else StreamedOutput(keep=config.capture_output)
        async with self.upstream.stream(copy, item.body, item.headers, self.timeout_s) as response:
            status = response.status
            try:
                if not 200 <= status < 300:
                    await response.read()
                else:
                    if output is not None:
                        output.content_type = response.headers.get("Content-Type")
                    async for chunk, _ in response.content.iter_chunks():
                        if chunk and output is not None:
                            output.add(chunk)
                    if output is not None:
                        output.finish()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning(
                    "the model stream of shadow variant %s of endpoint %s ended unexpectedly: %s",
                    lane.variant,
                    lane.endpoint,
                    exc or type(exc).__name__,
                )
            self._answered += 1
            self._observe(lane, config_name, status, started, item)
        if config is not None and output is not None and output.complete:
            self._offer(
                config,
                lane.endpoint,
                lane.variant,
                item.headers,
                item.body,
                output.body,
                output.content_type,
            )

    def _observe(
        self, lane: _Lane, config_name: str | None, status: int, started: float, item: _Copied
    ) -> None:
        now = time.perf_counter()
        try:
            shadow = self._shadow_route(lane)
            # The shadow variant's instances, for InvocationsPerInstance.
            instances = (
                sum(len(g.copies) for g in shadow.variant.live_groups) if shadow is not None else 0
            )
            self.observer.invoked(
                lane.endpoint,
                lane.variant,
                config_name,
                status,
                now - started,
                max(0.0, started - item.queued_at),
                instances,
            )
        except Exception:
            log.exception("shadow observer failed")

    def _offer(
        self,
        config: CaptureConfig,
        endpoint: str,
        variant: str,
        headers: Mapping[str, str],
        body: bytes,
        answer: bytes,
        answer_content_type: str | None,
    ) -> None:
        assert self.capture is not None
        self.capture.offer(
            config,
            endpoint,
            variant,
            body,
            headers.get("content-type"),
            answer,
            answer_content_type,
            headers.get("x-amzn-sagemaker-inference-id"),
        )

    # -- lifecycle --------------------------------------------------------------

    @property
    def stats(self) -> MirrorStats:
        return MirrorStats(self._queued, self._dropped, self._answered)

    async def aclose(self) -> None:
        """Stop the workers; copied requests still queued are dropped (and counted)."""
        self._closed = True
        lanes = list(self._lanes.values())
        self._lanes.clear()
        self._named.clear()
        for lane in lanes:
            for task in lane.workers:
                task.cancel()
            for task in lane.workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            while not lane.queue.empty():
                lane.queue.get_nowait()
                self._drop(lane.endpoint, lane.variant)
