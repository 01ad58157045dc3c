"""The Ray fleet: each instance a placement group, each copy an actor on a node.

``moorage serve --fleet ray`` puts this behind the fleet seam
(:class:`moorage.fleet.base.Fleet`) instead of the local process fleet; the
reconciler, the component runner, placement and the router do not know
which one runs. Starting a copy: its instance's placement group is created
(or found) and placed by Ray (:mod:`.instances`); a detached actor is
created in its bundle and starts moorage's model server, or a mapped image's
command, on that node (:mod:`.actor`). Model data on ``s3://`` is fetched on
the node; local data is prepared here and shipped (:mod:`.shipping`). The
copy is reached at the node's address through its gateway, with a secret
only the router knows (:mod:`.gateway`, ``Copy.secret``).

Running copies are watched two ways: a pending call to the actor's
``exited`` returns when the model server exits and fails when the actor dies
(its node was lost) — either is reported to the exit callbacks as a crash, so
the reconciler replaces the copy where Ray finds room; and every copy is
pinged through its gateway as the local fleet pings its copies
(:mod:`moorage.fleet.health`). The model server's output is pulled from the
actor every :data:`LOG_PULL_S` and written to the copy's log stream on this
machine, where the Logs API reads it; the first line says which Ray node the
copy runs on.

Restarts: a server started again on the same data dir finds its actors in
the namespace (:mod:`.cluster`); a start asked for a copy identical to a
live one (same endpoint, instance, model, image and environment) adopts that
actor instead of starting a new one. Whatever is still unclaimed
:attr:`reattach_grace_s` after the connection (copies of endpoints deleted
meanwhile) is removed, with the placement groups no copy holds. Stopping the
server leaves the copies running for the next start to adopt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

from moorage.clock import Clock
from moorage.domain.model import ModelData
from moorage.file_roots import PROGRAM, SUBMIT_DIRECTORY, FileRoots, OutsideRoots, program_problem
from moorage.fleet.base import Copy, CopySpec, CopyState, ExitCallback, StartFailed
from moorage.fleet.container_set import member_gone, start_set, stop_set
from moorage.fleet.drain import RemoteDrain, drain
from moorage.fleet.health import FailedPings, HealthPolicy
from moorage.fleet.health_round import ping_round
from moorage.fleet.images import ImageMap
from moorage.fleet.local import _region_env
from moorage.fleet.pinger import Pinger
from moorage.fleet.prepare import PrepareError, Preparer
from moorage.fleet.processes import CopyProcess
from moorage.fleet.ray.actor import CopyActor, NodeStart
from moorage.fleet.ray.cluster import (
    ACTOR_PREFIX,
    Survivor,
    connect,
    kill_quietly,
    leftover_groups,
    namespace_of,
    survivors,
)
from moorage.fleet.ray.instances import (
    DEVICE_VARIABLES,
    Instance,
    Instances,
    Unplaceable,
    actor_resources,
    bundle_of,
    group_name,
)
from moorage.fleet.ray.shipping import Shipped, pack
from moorage.logs.collector import LogCollector
from moorage.logs.layout import LOGS_DIR, stream_path
from moorage.logs.names import copy_stream

log = logging.getLogger(__name__)

LOG_PULL_S = 0.5
_GONE = frozenset({CopyState.STOPPED, CopyState.FAILED, CopyState.CRASHED, CopyState.UNHEALTHY})


def reattach_key(spec: CopySpec) -> str:
    """What makes two copies interchangeable: everything but the copy id."""
    parts = [
        spec.endpoint,
        spec.variant,
        spec.component or "",
        spec.image,
        repr(spec.model_data),
        repr(sorted(spec.environment.items())),
        repr(sorted(spec.platform_env.items())),
        spec.log_stream,
        repr(spec.placement),
        spec.container or "",
        str(spec.use_cache),
    ]
    return hashlib.blake2s("\0".join(parts).encode(), digest_size=12).hexdigest()


class _Running:
    """The fleet's handles on one copy's actor."""

    def __init__(self, name: str, handle: Any, instance: Instance, write_fd: int) -> None:
        self.name = name
        self.handle = handle
        self.instance = instance
        self.write_fd: int | None = write_fd
        self.tasks: set[asyncio.Task[None]] = set()


class RayFleet:
    def __init__(
        self,
        *,
        data_dir: Path,
        images: ImageMap,
        preparer: Preparer,
        clock: Clock,
        address: str | None = None,
        file_roots: FileRoots | None = None,
        health: HealthPolicy | None = None,
        reattach_grace_s: float = 60.0,
    ) -> None:
        self.data_dir = data_dir
        self.images = images
        self.preparer = preparer
        self.clock = clock
        # Waits for the requests other processes route to a copy (moorage.fleet.drain).
        self.remote_drain: RemoteDrain | None = None
        self.address = address
        self.file_roots = file_roots or FileRoots()
        self.health = health or HealthPolicy()
        self.reattach_grace_s = reattach_grace_s
        self.namespace = namespace_of(data_dir)
        self.logs = LogCollector()
        self._ray: Any = None
        self._actor_class: Any = None
        self._instances: Instances | None = None
        self._copies: dict[str, Copy] = {}
        self._running: dict[str, _Running] = {}
        self._callbacks: list[ExitCallback] = []
        self._pings = FailedPings(self.health)
        self._tasks: set[asyncio.Task[None]] = set()
        # Health pings over one kept-alive connection per copy (the secret in each).
        self._pinger = Pinger()
        # Live actors found at connection, by reattach key, until claimed or swept.
        self._survivors: dict[str, list[Survivor]] = {}
        # Local folder → what was shipped for it.
        self._shipped: dict[Path, Shipped] = {}

    # -- connection ------------------------------------------------------------

    async def connect(self) -> None:
        """Join the cluster and list the copies a previous server left running."""
        self._ray = await asyncio.to_thread(connect, self.address, self.namespace)
        self._instances = Instances(self._ray, self.namespace)
        self._actor_class = self._ray.remote(CopyActor)
        found = await asyncio.to_thread(survivors, self._ray, self.namespace)
        for survivor in found:
            key = survivor.identity.get("key", "")
            if survivor.started is None:
                kill_quietly(self._ray, survivor.name, self.namespace)
                continue
            self._survivors.setdefault(key, []).append(survivor)
        if found:
            log.info("Ray fleet: %d copies of a previous server found running", len(found))
        self._spawn(self._sweep_later())
        self._spawn(self._check_health())

    async def _sweep_later(self) -> None:
        await asyncio.sleep(self.reattach_grace_s)
        orphans = [s for group in self._survivors.values() for s in group]
        self._survivors.clear()
        for survivor in orphans:
            log.info("Ray fleet: removing copy %s, which no endpoint wants", survivor.name)
            await asyncio.to_thread(kill_quietly, self._ray, survivor.name, self.namespace)
        assert self._instances is not None
        keep = self._instances.names()
        for group in await asyncio.to_thread(leftover_groups, self._ray, self.namespace, keep):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._ray.util.remove_placement_group, group)

    # -- the seam --------------------------------------------------------------

    def on_exit(self, callback: ExitCallback) -> None:
        self._callbacks.append(callback)

    def copies(self) -> list[Copy]:
        return list(self._copies.values())

    def processes(self) -> list[CopyProcess]:
        """None: the copies' processes run on other machines (no utilization metrics)."""
        return []

    async def start(self, spec: CopySpec) -> Copy:
        if spec.containers:
            return await start_set(self, spec)
        if self._ray is None:
            await self.connect()
        if spec.multi_model is not None:
            raise StartFailed(
                f"{_what(spec)}: multi-model containers do not run on the Ray fleet yet."
            )
        self._check_environment(spec)
        key = reattach_key(spec)
        waiting = self._survivors.get(key)
        if waiting:
            survivor = waiting.pop()
            if not waiting:
                del self._survivors[key]
            adopted = await self._adopt(spec, survivor)
            if adopted is not None:
                return adopted
        return await self._start_new(spec, key)

    async def _start_new(self, spec: CopySpec, key: str) -> Copy:
        assert self._instances is not None
        copy = Copy(spec)
        copy.started_at = self.clock.now()
        resolved = self.images.resolve(spec.image)
        copy.resolved_image = resolved.name
        copy.log_path = str(self.log_path(spec))
        self._copies[spec.copy_id] = copy
        running: _Running | None = None
        try:
            try:
                instance = await self._instances.acquire(
                    spec.endpoint, spec.placement, spec.copy_id, timeout_s=spec.startup_timeout_s
                )
            except Unplaceable as exc:
                raise StartFailed(f"{_what(spec)} could not be placed: {exc.reason}") from None
            plan = await self._plan(spec, resolved, key)
            running = self._create_actor(spec, instance, plan.identity)
            copy.state = CopyState.STARTING
            timeout = spec.startup_timeout_s + spec.download_timeout_s + 30
            try:
                result = await asyncio.wait_for(_call(running.handle.start, plan), timeout)
            except TimeoutError:
                raise StartFailed(
                    f"{_what(spec)} did not start within {timeout:g} s on its Ray node."
                ) from None
            except Exception as exc:
                raise StartFailed(
                    f"{_what(spec)}: its Ray actor failed while starting (was its node lost?): "
                    f"{_short(exc)}"
                ) from None
            if "error" in result:
                raise StartFailed(f"{result['error']} (log: {copy.log_path})")
            self._serving(copy, running, result["started"], plan.secret)
            return copy
        except BaseException as exc:
            copy.state = CopyState.FAILED
            if isinstance(exc, StartFailed):
                copy.failure_reason = exc.reason
            self._copies.pop(spec.copy_id, None)
            if running is not None:
                await self._discard(spec.copy_id, running)
            raise

    async def _adopt(self, spec: CopySpec, survivor: Survivor) -> Copy | None:
        """Take over a copy a previous server left running (None if it no longer answers)."""
        assert self._instances is not None and survivor.started is not None
        group = survivor.identity.get("group", "")
        try:
            placement_group = await asyncio.to_thread(self._ray.util.get_placement_group, group)
        except Exception:
            await asyncio.to_thread(kill_quietly, self._ray, survivor.name, self.namespace)
            return None
        self._instances.adopt(group, placement_group, bundle_of(spec.placement))
        instance = await self._instances.acquire(
            spec.endpoint, spec.placement, spec.copy_id, timeout_s=30.0
        )
        copy = Copy(spec)
        copy.started_at = self.clock.now()
        copy.resolved_image = self.images.resolve(spec.image).name
        copy.log_path = str(self.log_path(spec))
        running = self._attach(spec, survivor.name, survivor.handle, instance)
        self._copies[spec.copy_id] = copy
        copy.host = str(survivor.started["host"])
        copy.port = int(survivor.started["port"])
        copy.secret = survivor.secret
        if await self._ping(copy) is not None:
            self._copies.pop(spec.copy_id, None)
            await self._discard(spec.copy_id, running)
            return None
        self._write(running, f"moorage: copy {spec.copy_id} reattached to its running model server")
        self._serving(copy, running, survivor.started, survivor.secret)
        log.info("Ray fleet: copy %s reattached to actor %s", spec.copy_id, survivor.name)
        return copy

    def _create_actor(
        self, spec: CopySpec, instance: Instance, identity: dict[str, str]
    ) -> _Running:
        ray = self._ray
        strategy = ray.util.scheduling_strategies.PlacementGroupSchedulingStrategy(
            placement_group=instance.group, placement_group_bundle_index=0
        )
        name = f"{ACTOR_PREFIX}{uuid.uuid4().hex}"
        handle = self._actor_class.options(
            name=name,
            namespace=self.namespace,
            lifetime="detached",
            num_cpus=0,
            resources=actor_resources(instance.shape, spec.placement),
            scheduling_strategy=strategy,
            max_restarts=0,
            max_concurrency=64,
        ).remote(identity)
        return self._attach(spec, name, handle, instance)

    def _attach(self, spec: CopySpec, name: str, handle: Any, instance: Instance) -> _Running:
        """Track the actor and start pulling its output into the copy's log stream."""
        path = self.log_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        self.logs.attach(read_end, path)
        running = _Running(name, handle, instance, write_end)
        self._running[spec.copy_id] = running
        self._spawn(self._pull_output(running), running)
        return running

    def _serving(self, copy: Copy, running: _Running, started: dict[str, Any], secret: str) -> None:
        copy.host = str(started["host"])
        copy.port = int(started["port"])
        copy.pid = int(started["pid"])
        copy.secret = secret
        copy.state = CopyState.READY
        copy.ready_at = self.clock.now()
        self._write(
            running,
            f"moorage: copy {copy.copy_id} of instance "
            f"{copy.spec.placement.instance_id if copy.spec.placement else copy.copy_id} "
            f"runs on Ray node {started['node_id']} at {copy.host}:{copy.port}",
        )
        self._spawn(self._watch(copy, running), running)

    async def _plan(self, spec: CopySpec, resolved: Any, key: str) -> NodeStart:
        assert self._instances is not None
        environment: dict[str, str] = {}
        if isinstance(resolved.env, dict):
            environment.update(resolved.env)
        environment.update(spec.environment)
        environment.update(_region_env(spec.environment))
        environment.update(
            {k: v for k, v in spec.platform_env.items() if k not in DEVICE_VARIABLES}
        )
        model: Shipped | ModelData | None = spec.model_data
        code: Shipped | str | None = None
        try:
            if spec.model_data is not None and not spec.model_data.url.startswith("s3://"):
                model_dir = await asyncio.to_thread(
                    self.preparer.model_dir,
                    spec.model_data,
                    timeout_s=spec.download_timeout_s,
                    use_cache=True,
                )
                model = await self._ship(model_dir)
            submit = spec.environment.get(SUBMIT_DIRECTORY)
            if resolved.builtin and submit:
                if submit.startswith("s3://"):
                    code = submit
                else:
                    code_dir = await asyncio.to_thread(
                        self.preparer.code_dir,
                        submit,
                        Path("/nonexistent"),
                        timeout_s=spec.download_timeout_s,
                        use_cache=True,
                    )
                    code = await self._ship(code_dir)
        except PrepareError as exc:
            raise StartFailed(f"{_what(spec)} could not be prepared: {exc}") from None
        group = group_name(
            self.namespace,
            spec.endpoint,
            spec.placement.instance_id if spec.placement else spec.copy_id,
        )
        return NodeStart(
            copy_id=spec.copy_id,
            what=_what(spec),
            image=resolved,
            environment=environment,
            model=model,
            code=code,
            startup_timeout_s=spec.startup_timeout_s,
            download_timeout_s=spec.download_timeout_s,
            use_cache=spec.use_cache,
            secret=secrets.token_urlsafe(32),
            cache_name=f"{self.namespace}-cache",
            identity={
                "key": key,
                "copy_id": spec.copy_id,
                "endpoint": spec.endpoint,
                "component": spec.component or "",
                "group": group,
            },
        )

    async def _ship(self, folder: Path) -> Shipped:
        shipped = self._shipped.get(folder)
        if shipped is None:
            key, data = await asyncio.to_thread(pack, folder)
            ref = await asyncio.to_thread(self._ray.put, data)
            shipped = self._shipped[folder] = Shipped(key, [ref])
        return shipped

    def _check_environment(self, spec: CopySpec) -> None:
        problem = program_problem(spec.environment.get(PROGRAM, ""))
        if problem is not None:
            raise StartFailed(f"{_what(spec)}: {PROGRAM} {problem}.")
        try:
            self.file_roots.check_environment("Environment", spec.environment)
        except OutsideRoots as exc:
            raise StartFailed(f"{_what(spec)} was not started: {exc}") from None

    def log_path(self, spec: CopySpec) -> Path:
        stream = copy_stream(
            spec.endpoint, spec.variant, spec.component, spec.copy_id, spec.log_stream
        )
        return stream_path(self.data_dir / LOGS_DIR, spec.endpoint, spec.component, stream)

    # -- watching --------------------------------------------------------------

    async def _watch(self, copy: Copy, running: _Running) -> None:
        """Report the copy gone when its model server exits or its actor dies."""
        try:
            code = await _call(running.handle.exited)
            reason = f"exited with status {code}"
            copy.exit_code = int(code)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"was lost with its Ray actor (node lost?): {_short(exc)}"
        if copy.state is CopyState.READY:
            copy.state = CopyState.CRASHED
            copy.failure_reason = reason
            log.warning("copy %s %s", copy.copy_id, reason)
            self._gone(copy)
            self._spawn(self._discard(copy.copy_id, running))

    async def _pull_output(self, running: _Running) -> None:
        while running.write_fd is not None:
            try:
                data = await _call(running.handle.take_output)
            except asyncio.CancelledError:
                raise
            except Exception:
                return
            if data:
                await asyncio.to_thread(self._write_bytes, running, data)
            await asyncio.sleep(LOG_PULL_S)

    def _write(self, running: _Running, line: str) -> None:
        self._write_bytes(running, (line + "\n").encode())

    @staticmethod
    def _write_bytes(running: _Running, data: bytes) -> None:
        fd = running.write_fd
        if fd is None:
            return
        with contextlib.suppress(OSError):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]

    def _gone(self, copy: Copy) -> None:
        self._copies.pop(copy.copy_id, None)
        if copy.parent is not None:
            whole = member_gone(copy, self.stop)
            if whole is None:
                return
            copy = whole
        for callback in list(self._callbacks):
            try:
                callback(copy)
            except Exception:
                log.exception("exit callback failed for %s", copy.copy_id)

    async def _check_health(self) -> None:
        while True:
            await self.clock.sleep(self.health.interval_s)
            try:
                await self._ping_all()
            except Exception:
                log.exception("health checks of the Ray copies failed; trying again")

    async def _ping_all(self) -> None:
        await ping_round(
            list(self._copies.values()),
            self._pinger,
            self._pings,
            self.health.timeout_s,
            self._unhealthy,
        )

    def _unhealthy(self, copy: Copy, reason: str) -> None:
        """Replace ``copy`` as if it had crashed, then remove its actor."""
        copy.state = CopyState.UNHEALTHY
        copy.failure_reason = reason
        self._gone(copy)
        running = self._running.get(copy.copy_id)
        if running is not None:
            self._spawn(self._discard(copy.copy_id, running))

    async def _ping(self, copy: Copy) -> str | None:
        """None if ``GET /ping`` answered 200 in time; else what went wrong."""
        return (await self._pinger.ping_all([copy], self.health.timeout_s))[0]

    # -- stopping --------------------------------------------------------------

    async def stop(self, copy: Copy, *, drain_timeout_s: float = 60.0) -> None:
        if copy.members:
            await stop_set(copy, self.stop, drain_timeout_s, self.clock)
            return
        running = self._running.get(copy.copy_id)
        if copy.state in _GONE or running is None:
            self._copies.pop(copy.copy_id, None)
            return
        copy.state = CopyState.STOPPING
        await drain(copy, self.clock, drain_timeout_s, self.remote_drain)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_call(running.handle.stop), 40.0)
        copy.state = CopyState.STOPPED
        self._copies.pop(copy.copy_id, None)
        await self._discard(copy.copy_id, running)

    async def _discard(self, copy_id: str, running: _Running) -> None:
        """Kill the actor, stop pulling its output, and free its place on the instance."""
        if self._running.get(copy_id) is running:
            del self._running[copy_id]
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(_call(running.handle.take_output), 5.0)
            if data:
                await asyncio.to_thread(self._write_bytes, running, data)
        await asyncio.to_thread(kill_quietly, self._ray, running.name, self.namespace)
        self._close_output(running)
        current = asyncio.current_task()
        for task in list(running.tasks):
            if task is not current:
                task.cancel()
        assert self._instances is not None
        await self._instances.release(running.instance, copy_id)

    @staticmethod
    def _close_output(running: _Running) -> None:
        fd, running.write_fd = running.write_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    async def load_adapter(self, copy: Copy, name: str, artifact: ModelData) -> None:
        raise StartFailed(f"Adapter {name}: adapters are not loaded on the Ray fleet yet.")

    async def unload_adapter(self, copy: Copy, name: str) -> None:
        return None

    async def shutdown(self) -> None:
        """Stop watching; the copies keep running for the next server to adopt."""
        for running in list(self._running.values()):
            with contextlib.suppress(Exception):
                data = await asyncio.wait_for(_call(running.handle.take_output), 2.0)
                if data:
                    await asyncio.to_thread(self._write_bytes, running, data)
            self._close_output(running)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self.logs.close, 2.0)
        self._pinger.close()
        if self._ray is not None:
            await asyncio.to_thread(self._ray.shutdown)

    def _spawn(self, work: Any, running: _Running | None = None) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if running is not None:
            running.tasks.add(task)
            task.add_done_callback(running.tasks.discard)


async def _call(method: Any, *args: Any) -> Any:
    """Call an actor method and await its result on the event loop."""
    return await method.remote(*args)


def _what(spec: CopySpec) -> str:
    if spec.component:
        return f"A copy of inference component {spec.component}"
    if spec.container:
        return f"Container {spec.container} for production variant {spec.variant}"
    return f"The primary container for production variant {spec.variant}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
