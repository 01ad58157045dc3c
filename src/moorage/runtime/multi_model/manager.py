"""Multi-model endpoints: models loaded on demand into the copies, unloaded when memory runs short.

The platform's half of SageMaker's multi-model endpoints (docs/multi-model.md).
For a request naming ``TargetModel``, :class:`MultiModels`:

1. picks the copy (:meth:`MultiModels.pick`, the rules of
   :func:`moorage.runtime.multi_model.residency.choose`): one that holds the
   model, else the least loaded; a hot model is loaded on more copies;
2. makes sure the model is loaded there (:meth:`MultiModels.acquire`): on a
   miss it fetches ``<ModelDataUrl>/<TargetModel>`` to local disk once
   (:mod:`moorage.runtime.multi_model.files`), unloads the least recently
   used idle models until the model's size fits the copy's memory budget,
   and loads it through the container's ``POST /models``
   (:mod:`moorage.runtime.multi_model.client`). Loads on one copy run one at
   a time, so the memory a load adds to the copy's processes (read before
   and after) is that model's *footprint*; its unpacked size on disk is the
   floor, because a model that maps its files grows its resident memory only
   as pages are touched. Requests for a model being loaded wait for that
   load (one load, however many requests); a request that waits past its
   deadline is answered ``ModelNotReadyException`` while the load goes on
   (for up to :data:`LOAD_TIMEOUT_S`), as SageMaker does;
3. counts the model in use until :meth:`MultiModels.release`: a model in use
   is never unloaded. With ``MultiModelConfig.ModelCacheSetting`` ``Disabled``
   a model is unloaded as soon as no request uses it.

It records SageMaker's multi-model metrics
(:class:`moorage.monitoring.multi_model_metrics.MultiModelMetrics`), samples
``LoadedModelCount`` per copy every sampling interval, and counts each
model's invocations, loads, cache hits and unloads for the
``/moorage/models/{endpoint}`` page (:meth:`MultiModels.document`). Copies
are known by their id; the state of a copy that has stopped is dropped at
the next sample. :mod:`moorage.runtime.hosted` calls it for every request
to a multi-model container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from moorage.clock import Clock
from moorage.domain.endpoint import Endpoint
from moorage.domain.model import MultiModelData
from moorage.fleet.base import Copy, CopyState
from moorage.fleet.prepare import Preparer
from moorage.monitoring.multi_model_metrics import MultiModelMetrics
from moorage.runtime.multi_model.client import ContainerModels, process_memory
from moorage.runtime.multi_model.files import FetchFailed, ModelFiles
from moorage.runtime.multi_model.names import container_name, model_url
from moorage.runtime.multi_model.residency import Residency, Resident, choose

log = logging.getLogger(__name__)

# SageMaker: a model "continues to download and load into the inference
# container for up to 360 seconds" after the request gave up waiting.
LOAD_TIMEOUT_S = 360.0
UNLOAD_TIMEOUT_S = 60.0
# The memory (MiB) a copy's models may hold, below the instance's (Environment).
MEMORY_ENV = "MOORAGE_MULTI_MODEL_MEMORY_MB"
MIB = 1024 * 1024
# No instance memory known (no instance type): models are never unloaded for room.
UNBOUNDED = 2**62
_GONE = frozenset({CopyState.STOPPED, CopyState.FAILED, CopyState.CRASHED, CopyState.UNHEALTHY})


class DoesNotFit(Exception):
    """The model cannot be held by the copy's memory (a request error)."""


class LoadFailed(Exception):
    """The container refused or failed the load; ``status`` 0 means it gave no answer."""

    def __init__(self, status: int, message: str, copy: Copy) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.copy = copy


class NotReady(Exception):
    """The request's deadline passed while its model was still being fetched or loaded."""


@dataclass
class ModelStats:
    """One model's history on one variant, for the models page."""

    invocations: int = 0
    cache_hits: int = 0
    loads: int = 0
    unloads: int = 0
    last_invoked: float | None = None


@dataclass
class _Process:
    """A multi-model container process (a copy, or a container of a multi-container copy)."""

    copy: Copy
    residency: Residency
    loading: dict[str, asyncio.Future[Resident]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    freed: asyncio.Event = field(default_factory=asyncio.Event)


def budget_of(copy: Copy) -> int:
    """The bytes ``copy``'s models may hold: the instance's (or reserved) memory, or less."""
    placement = copy.spec.placement
    mib = None
    if placement is not None:
        mib = placement.reserved_memory_mib or placement.memory_mib
    override = copy.spec.environment.get(MEMORY_ENV)
    if override is not None and override.strip().isdigit() and int(override) > 0:
        mib = min(mib, int(override)) if mib else int(override)
    return mib * MIB if mib else UNBOUNDED


class MultiModels:
    def __init__(
        self,
        preparer: Preparer,
        clock: Clock,
        metrics: MultiModelMetrics,
        *,
        sample_interval_s: float = 10.0,
        client: ContainerModels | None = None,
    ) -> None:
        self.files = ModelFiles(preparer)
        self.client = client or ContainerModels()
        self.clock = clock
        self.metrics = metrics
        self.sample_interval_s = sample_interval_s
        self._processes: dict[str, _Process] = {}
        # endpoint (lower-cased) -> variant -> TargetModel -> stats
        self._stats: dict[str, dict[str, dict[str, ModelStats]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sampler: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        if self._sampler is None:
            self._sampler = asyncio.create_task(self._sample_forever(), name="multi-model-sampler")

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        for task in list(self._tasks):
            task.cancel()
        await self.client.close()

    # -- routing -------------------------------------------------------------

    def process(self, copy: Copy) -> _Process:
        found = self._processes.get(copy.copy_id)
        if found is None or found.copy is not copy:
            found = self._processes[copy.copy_id] = _Process(copy, Residency(budget_of(copy)))
        return found

    def holds(self, copy: Copy, target: str) -> bool:
        found = self._processes.get(copy.copy_id)
        return found is not None and (target in found.residency or target in found.loading)

    def pick(
        self, candidates: Sequence[Copy], target: str, process_of: Callable[[Copy], Copy]
    ) -> Copy | None:
        """The copy (of ``candidates``) to serve ``target``; ``process_of`` names its container."""
        return choose(
            candidates,
            target,
            residency=lambda c: self.process(process_of(c)).residency,
            holds=lambda c: self.holds(process_of(c), target),
            inflight=lambda c: c.inflight,
        )

    # -- using a model -------------------------------------------------------

    async def acquire(
        self, copy: Copy, spec: MultiModelData, target: str, deadline: float
    ) -> Resident:
        """``target`` loaded in ``copy`` and counted in use; wait until ``deadline`` (loop time).

        Raises :class:`NotReady`, :class:`DoesNotFit`, :class:`LoadFailed` or
        :class:`~moorage.runtime.multi_model.files.FetchFailed`.
        """
        process = self.process(copy)
        endpoint, variant = copy.spec.endpoint, copy.spec.variant
        resident = process.residency.touch(target, self.clock.now())
        if resident is not None:
            resident.in_use += 1
            # Counted only for models that loaded: a TargetModel that never did leaves no trace.
            self._model_stats(endpoint, variant, target).cache_hits += 1
            self.metrics.cache_hit(endpoint, variant, True)
            return resident
        self.metrics.cache_hit(endpoint, variant, False)
        loop = asyncio.get_running_loop()
        waited_from = time.perf_counter()
        try:
            # A model loaded for us may be unloaded for another before we run again:
            # then it is loaded once more.
            for _ in range(3):
                future = process.loading.get(target)
                if future is None:
                    future = asyncio.ensure_future(self._load(process, spec, target))
                    process.loading[target] = future
                    future.add_done_callback(lambda done: _loaded(process, target, done))
                try:
                    await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    raise NotReady() from None
                resident = process.residency.touch(target, self.clock.now())
                if resident is not None:
                    resident.in_use += 1
                    return resident
            raise NotReady()
        finally:
            self.metrics.loading_wait(endpoint, variant, time.perf_counter() - waited_from)

    def release(self, copy: Copy, spec: MultiModelData, resident: Resident, ok: bool) -> None:
        """A request is done with ``resident`` (``ok``: it was answered by the model)."""
        resident.in_use = max(0, resident.in_use - 1)
        if ok:
            resident.invocations += 1
            stats = self._model_stats(copy.spec.endpoint, copy.spec.variant, resident.target)
            stats.invocations += 1
            stats.last_invoked = self.clock.now()
        process = self._processes.get(copy.copy_id)
        if process is None or resident.in_use > 0:
            return
        process.freed.set()
        if not spec.cache:
            self._spawn(self._unload_idle(process, resident.target))

    def lost(self, copy: Copy, target: str) -> None:
        """The container no longer has ``target`` (it answered 404): forget it was loaded."""
        process = self._processes.get(copy.copy_id)
        if process is not None:
            process.residency.remove(target)

    # -- loading and unloading -----------------------------------------------

    async def _load(self, process: _Process, spec: MultiModelData, target: str) -> Resident:
        copy = process.copy
        endpoint, variant = copy.spec.endpoint, copy.spec.variant
        url = model_url(spec.prefix, target)
        local, fetched_s = await self.files.get(url, LOAD_TIMEOUT_S)
        if fetched_s is not None:
            self.metrics.downloading(endpoint, variant, fetched_s)
        budget = process.residency.budget
        if local.size > budget:
            raise DoesNotFit(_too_large(target, local.size, budget))
        name = container_name(target)
        deadline = asyncio.get_running_loop().time() + LOAD_TIMEOUT_S
        async with process.lock:
            for attempt in range(4):
                await self._make_room(process, local.size, target, deadline)
                before = await asyncio.to_thread(process_memory, copy.pid)
                started = time.perf_counter()
                answer = await self.client.load(copy, name, str(local.path), target, LOAD_TIMEOUT_S)
                took = time.perf_counter() - started
                if 200 <= answer.status < 300 or answer.status == 409:
                    after = await asyncio.to_thread(process_memory, copy.pid)
                    self.metrics.loading(endpoint, variant, took)
                    return await self._admit(process, target, name, max(after - before, local.size))
                if answer.status == 507 and attempt < 3:
                    # The container is out of memory (SageMaker's contract): unload the
                    # least recently used idle model and try again.
                    idle = [r for r in process.residency if r.in_use == 0 and r.target != target]
                    if not idle:
                        raise DoesNotFit(
                            f"TargetModel {target} could not be loaded: the container has no "
                            "memory left for it and every other model in it is in use."
                        )
                    await self._unload(process, idle[0])
                    continue
                if answer.status == 404 and attempt == 0 and not local.path.is_dir():
                    # Its files went missing from the cache: fetch them again.
                    self.files.forget(url)
                    local, _ = await self.files.get(url, LOAD_TIMEOUT_S)
                    continue
                raise LoadFailed(answer.status, answer.text, copy)
        raise LoadFailed(507, f"TargetModel {target} could not be loaded: out of memory", copy)

    async def _admit(self, process: _Process, target: str, name: str, footprint: int) -> Resident:
        copy = process.copy
        residency = process.residency
        now = self.clock.now()
        resident = Resident(target, name, footprint, loaded_at=now, last_used=now)
        stats = self._model_stats(copy.spec.endpoint, copy.spec.variant, target)
        stats.loads += 1
        if footprint > residency.budget:
            await self._unload(process, resident, known=False)
            raise DoesNotFit(_too_large(target, footprint, residency.budget))
        residency.add(resident)
        # Measured larger than its files: unload idle models until the budget holds again
        # (models in use stay; the next load makes up for them).
        victims = residency.victims(0, keep=target) or []
        for victim in victims:
            await self._unload(process, victim)
        return resident

    async def _make_room(self, process: _Process, needed: int, keep: str, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            victims = process.residency.victims(needed, keep=keep)
            if victims is not None:
                for victim in victims:
                    await self._unload(process, victim)
                return
            # Every model that would have to go is in use: wait for one to be released.
            process.freed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise DoesNotFit(
                    f"TargetModel {keep} could not be loaded: the models in use on the "
                    "instance hold the memory it needs."
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.freed.wait(), remaining)

    async def _unload(self, process: _Process, resident: Resident, *, known: bool = True) -> None:
        """Unload ``resident`` (the caller holds the process's lock, or it is not yet known)."""
        copy = process.copy
        if known:
            process.residency.remove(resident.target)
        started = time.perf_counter()
        answer = await self.client.unload(copy, resident.name, resident.target, UNLOAD_TIMEOUT_S)
        took = time.perf_counter() - started
        self.metrics.unloading(copy.spec.endpoint, copy.spec.variant, took)
        self._model_stats(copy.spec.endpoint, copy.spec.variant, resident.target).unloads += 1
        if not (200 <= answer.status < 300 or answer.status == 404):
            log.warning(
                "unloading model %s from copy %s: %s %s",
                resident.target,
                copy.copy_id,
                answer.status,
                answer.text[:300],
            )

    async def _unload_idle(self, process: _Process, target: str) -> None:
        async with process.lock:
            resident = process.residency.get(target)
            if resident is not None and resident.in_use == 0:
                await self._unload(process, resident)

    # -- observing ------------------------------------------------------------

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sample_interval_s)
            try:
                self.sample()
            except Exception:
                log.exception("sampling the multi-model copies failed")

    def sample(self) -> None:
        """``LoadedModelCount`` of every ready copy; forget copies that have stopped."""
        for copy_id, process in list(self._processes.items()):
            copy = process.copy
            if copy.state in _GONE:
                del self._processes[copy_id]
                continue
            if copy.state is CopyState.READY:
                self.metrics.loaded_count(
                    copy.spec.endpoint, copy.spec.variant, len(process.residency)
                )

    def document(self, endpoint: str) -> dict[str, Any]:
        """The ``/moorage/models/{endpoint}`` page: copies, their models, each model's counts."""
        copies = []
        for process in self._processes.values():
            copy = process.copy
            if copy.spec.endpoint.lower() != endpoint.lower() or copy.state in _GONE:
                continue
            placement = copy.spec.placement
            residency = process.residency
            copies.append(
                {
                    "variant": copy.spec.variant,
                    "copy_id": copy.copy_id,
                    "instance_id": placement.instance_id if placement else copy.copy_id,
                    "container": copy.spec.container,
                    "memory_budget_bytes": residency.budget
                    if residency.budget < UNBOUNDED
                    else None,
                    "memory_used_bytes": residency.used,
                    "loading": sorted(process.loading),
                    "models": [
                        {
                            "target_model": r.target,
                            "footprint_bytes": r.footprint,
                            "loaded_at": r.loaded_at,
                            "last_used": r.last_used,
                            "invocations": r.invocations,
                            "in_use": r.in_use,
                        }
                        for r in residency
                    ],
                }
            )
        holders: dict[tuple[str, str], int] = {}
        for process in self._processes.values():
            copy = process.copy
            if copy.spec.endpoint.lower() == endpoint.lower() and copy.state not in _GONE:
                for resident in process.residency:
                    key = (copy.spec.variant, resident.target)
                    holders[key] = holders.get(key, 0) + 1
        models = []
        for variant, by_target in sorted(self._stats.get(endpoint.lower(), {}).items()):
            for target, stats in sorted(by_target.items()):
                models.append(
                    {
                        "variant": variant,
                        "target_model": target,
                        "invocations": stats.invocations,
                        "cache_hits": stats.cache_hits,
                        "loads": stats.loads,
                        "unloads": stats.unloads,
                        "last_invoked": stats.last_invoked,
                        "loaded_on": holders.get((variant, target), 0),
                    }
                )
        return {"endpoint": endpoint, "copies": copies, "models": models}

    def forget_endpoint(self, endpoint: str) -> None:
        self._stats.pop(endpoint.lower(), None)

    def endpoint_deleting(self, endpoint: Endpoint) -> bool:
        """A reconciler delete guard that never holds: it forgets the endpoint's counts.

        A new endpoint of the same name then starts counting from zero.
        """
        self.forget_endpoint(endpoint.name)
        return False

    # -- helpers --------------------------------------------------------------

    def _model_stats(self, endpoint: str, variant: str, target: str) -> ModelStats:
        by_variant = self._stats.setdefault(endpoint.lower(), {})
        by_target = by_variant.setdefault(variant, {})
        stats = by_target.get(target)
        if stats is None:
            stats = by_target[target] = ModelStats()
        return stats

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _loaded(process: _Process, target: str, done: asyncio.Future[Resident]) -> None:
    if process.loading.get(target) is done:
        del process.loading[target]
    if not done.cancelled():
        done.exception()  # retrieved: the waiters may all have given up


def _too_large(target: str, size: int, budget: int) -> str:
    return (
        f"TargetModel {target} needs {size / MIB:.1f} MiB of memory, more than the "
        f"{budget / MIB:.1f} MiB its instance has for models."
    )


__all__ = [
    "LOAD_TIMEOUT_S",
    "DoesNotFit",
    "FetchFailed",
    "LoadFailed",
    "ModelStats",
    "MultiModels",
    "NotReady",
]
