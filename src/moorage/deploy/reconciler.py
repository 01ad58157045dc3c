"""The reconciler: keeps every endpoint's copies matching its groups.

Level-triggered and count-based: each pass reads an endpoint's desired state
from the store, compares the wanted slots (``target`` instances per group)
with what runs, starts or stops the difference, publishes the routing
snapshot and writes back what it observes (status, instance counts, images).
A pass never waits on slow work — starts and stops are tasks that poke the
loop when they finish — so each read-modify-write of the store is atomic on
the event loop. The loop never dies: a failing pass is logged and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from moorage.clock import Clock
from moorage.deploy.copy_placement import for_variant
from moorage.deploy.model_copy_spec import variant_copy_spec
from moorage.deploy.serverless import DEFAULT_IDLE_S, ServerlessFleet
from moorage.deploy.slots import STABLE_AFTER_S, EndpointSlots, Slot
from moorage.domain import endpoint_config as config_domain
from moorage.domain import model as model_domain
from moorage.domain.endpoint import (
    KIND,
    Endpoint,
    EndpointStatus,
    Group,
    ObservedVariant,
    endpoint_from_record,
)
from moorage.domain.endpoint_config import EndpointConfig, Routing
from moorage.domain.serverless import ServerlessSettings, effective
from moorage.fleet.base import Copy, CopySpec, Fleet, StartFailed
from moorage.logs.names import variant_stream
from moorage.runtime.capture import CaptureConfigs
from moorage.runtime.router import Router
from moorage.runtime.snapshot import (
    EndpointRoute,
    GroupRoute,
    ShadowRoute,
    VariantRoute,
    sampling_fraction,
)
from moorage.store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)

TICK_S = 1.0

# Statuses in which the endpoint's copies should be running.
_RUNNING = frozenset(
    {
        EndpointStatus.CREATING,
        EndpointStatus.IN_SERVICE,
        EndpointStatus.UPDATING,
        EndpointStatus.SYSTEM_UPDATING,
        EndpointStatus.ROLLING_BACK,
        EndpointStatus.UPDATE_ROLLBACK_FAILED,
    }
)


class FleetView(Protocol):
    def ready(self, group_id: str, target: int) -> int: ...

    def failure(self, group_id: str, target: int) -> str | None: ...


Hook = Callable[[Endpoint, FleetView], Endpoint]


class ConfigProblem(Exception):
    """The endpoint's config or model can no longer be used (deleted, unsupported)."""


class Reconciler:
    def __init__(
        self,
        store: Store,
        fleet: Fleet,
        router: Router,
        clock: Clock,
        *,
        serverless_idle_s: float = DEFAULT_IDLE_S,
    ) -> None:
        self.store = store
        self.fleet = fleet
        self.router = router
        self.clock = clock
        self.endpoints: dict[str, EndpointSlots] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._hooks: list[Hook] = []
        self._pass_hooks: list[Callable[[], None]] = []
        self._delete_guards: list[Callable[[Endpoint], bool]] = []
        self._wake_at: float | None = None
        self._captures = CaptureConfigs()
        # Serverless variants run a copy only while in use (deploy/serverless.py).
        self.serverless = ServerlessFleet(self.poke, serverless_idle_s)
        # (endpoint, group, index) → copies started there so far. A slot that
        # is retired and wanted again (scale in, then out) or an endpoint
        # deleted and created again must not reuse the id of a copy that may
        # still be stopping: the fleet keys its process, socket and files by it.
        self._started: dict[tuple[str, str, int], int] = {}
        fleet.on_exit(self._copy_exited)

    # -- loop -------------------------------------------------------------

    def poke(self, name: str = "") -> None:
        self._wake.set()

    def add_hook(self, hook: Hook) -> None:
        """Run ``hook`` on every endpoint each pass, before slots are matched.

        Rollouts use this to advance their state machines. What a hook
        returns is persisted before any process is started or stopped.
        """
        self._hooks.append(hook)

    def add_pass_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once at the start of every pass, before any endpoint.

        Inference experiments use this: what they write to endpoints is
        acted on in the same pass.
        """
        self._pass_hooks.append(hook)

    def add_delete_guard(self, guard: Callable[[Endpoint], bool]) -> None:
        """Keep a ``Deleting`` endpoint's record while ``guard(endpoint)`` is true.

        The component runner uses this: an endpoint deleted right after its
        inference components stays until their copies have stopped and their
        records are gone.
        """
        self._delete_guards.append(guard)

    def wake_at(self, at: float) -> None:
        """Make sure a pass runs at ``at`` (clock time), even if nothing pokes."""
        if self._wake_at is None or at < self._wake_at:
            self._wake_at = at

    async def start(self) -> None:
        self._reset_observed()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for slots in self.endpoints.values():
            for slot in slots.slots.values():
                if slot.starting is not None:
                    slot.starting.cancel()
        await self.fleet.shutdown()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                self.reconcile_all()
            except StoreUnavailable:
                pass  # the store logged why, once; nothing can be saved until a restart
            except Exception:
                log.exception("reconcile pass failed; retrying")
            timeout = TICK_S
            if self._wake_at is not None:
                timeout = max(0.0, min(TICK_S, self._wake_at - self.clock.now()))
                self._wake_at = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _reset_observed(self) -> None:
        """After a restart nothing runs: observed counts start from zero.

        An endpoint that was ``InService`` is ``SystemUpdating`` until every
        instance is healthy again, so callers can tell it is not yet serving
        at full capacity (``endpoint_in_service`` waits for it).
        """
        for record in self.store.list_records(KIND):
            endpoint = endpoint_from_record(record)
            cleared = {k: ObservedVariant() for k in endpoint.observed}
            restored = endpoint.with_changes(observed=cleared)
            if endpoint.status is EndpointStatus.IN_SERVICE:
                restored = restored.with_changes(status=EndpointStatus.SYSTEM_UPDATING)
            if restored.to_doc() != endpoint.to_doc():
                self.store.put(restored.to_record())

    def reconcile_all(self) -> None:
        for pass_hook in self._pass_hooks:
            try:
                pass_hook()
            except Exception:
                log.exception("a reconciler pass hook failed")
        names = {r.key: r.name for r in self.store.list_records(KIND)}
        for key in list(self.endpoints):
            if key not in names:
                self._teardown(key)
        for name in names.values():
            try:
                self.reconcile(name)
            except StoreUnavailable:
                pass  # logged once by the store
            except Exception:
                log.exception("reconciling endpoint %s failed", name)

    # -- one endpoint -----------------------------------------------------

    def reconcile(self, name: str) -> None:
        record = self.store.get(KIND, name)
        if record is None:
            self._teardown(name.lower())
            return
        stored = endpoint_from_record(record)
        slots = self.endpoints.setdefault(name.lower(), EndpointSlots())
        endpoint = stored
        for hook in self._hooks:
            endpoint = hook(endpoint, slots)
        if endpoint.to_doc() != stored.to_doc() or endpoint.modified != stored.modified:
            # Persist what the hooks decided before acting on it, and look again soon.
            self.store.put(endpoint.to_record())
            self.poke()
        if endpoint.status is EndpointStatus.DELETING:
            self._delete(endpoint, slots)
            return
        if endpoint.status not in _RUNNING:
            self._retire_all(slots)
            self._publish(endpoint, slots, {})
            self._save(endpoint, self._observe(endpoint, slots, {}))
            return
        configs = self._configs(endpoint)
        now = self.clock.now()
        wanted = {
            (g.id, i): g
            for g in endpoint.groups
            for i in range(self._running(endpoint, g, configs, now))
        }
        for key in list(slots.slots):
            if key not in wanted:
                self._retire(slots, slots.slots.pop(key))
        for key, group in wanted.items():
            slot = slots.slots.setdefault(key, Slot(*key))
            config = configs.get(group.config_name)
            if config is None or config.component_based:
                continue
            if slot.copy is None and slot.starting is None and now >= slot.retry_at:
                self._start(endpoint, group, config, slot, slots)
        if endpoint.status is EndpointStatus.CREATING:
            endpoint = self._creation_outcome(endpoint, slots, configs, wanted)
        elif endpoint.status is EndpointStatus.SYSTEM_UPDATING and self._all_ready(
            slots, configs, wanted
        ):
            endpoint = endpoint.with_changes(status=EndpointStatus.IN_SERVICE)
        self._publish(endpoint, slots, configs)
        self._save(endpoint, self._observe(endpoint, slots, configs))

    def _running(
        self, endpoint: Endpoint, group: Group, configs: dict[str, EndpointConfig], now: float
    ) -> int:
        """How many of ``group``'s instances run now: its target, unless serverless and idle."""
        settings = self._serverless_settings(
            endpoint, group.variant, configs.get(group.config_name)
        )
        if settings is None:
            return group.target
        count, look_again = self.serverless.wanted(endpoint, group, settings, now)
        if look_again is not None:
            self.wake_at(look_again)
        return count

    @staticmethod
    def _serverless_settings(
        endpoint: Endpoint, variant: str, config: EndpointConfig | None
    ) -> ServerlessSettings | None:
        if config is None:
            return None
        spec = config.variant(variant)
        if spec is None or not spec.serverless:
            return None
        state = next((v for v in endpoint.variants if v.name == variant), None)
        return effective(spec, state.serverless if state else None)

    def _configs(self, endpoint: Endpoint) -> dict[str, EndpointConfig]:
        configs: dict[str, EndpointConfig] = {}
        for name in {g.config_name for g in endpoint.groups}:
            record = self.store.get(config_domain.KIND, name)
            if record is not None:
                configs[name] = config_domain.endpoint_config_from_record(record)
        return configs

    def _creation_outcome(
        self,
        endpoint: Endpoint,
        slots: EndpointSlots,
        configs: dict[str, EndpointConfig],
        wanted: dict[tuple[str, int], Group],
    ) -> Endpoint:
        if slots.fatal is not None:
            reason, slots.fatal = slots.fatal, None
            self._retire_all(slots)
            return endpoint.with_changes(
                status=EndpointStatus.FAILED, failure_reason=reason, modified=self.clock.now()
            )
        if not self._all_ready(slots, configs, wanted):
            return endpoint
        return endpoint.with_changes(status=EndpointStatus.IN_SERVICE, modified=self.clock.now())

    @staticmethod
    def _all_ready(
        slots: EndpointSlots,
        configs: dict[str, EndpointConfig],
        wanted: dict[tuple[str, int], Group],
    ) -> bool:
        for key, group in wanted.items():
            config = configs.get(group.config_name)
            if config is not None and config.component_based:
                continue
            if not slots.slots[key].ready:
                return False
        return True

    # -- starting and stopping copies -------------------------------------

    def copy_spec(
        self, endpoint: Endpoint, group: Group, config: EndpointConfig, slot: Slot, attempt: int
    ) -> CopySpec:
        variant = config.variant(group.variant)
        if variant is None or variant.model_name is None:
            raise ConfigProblem(
                f"Endpoint configuration {config.name} has no model for variant {group.variant}."
            )
        record = self.store.get(model_domain.KIND, variant.model_name)
        if record is None:
            raise ConfigProblem(f'Could not find model "{variant.model_name}".')
        model = model_domain.model_from_record(record)
        if not model.containers:
            raise ConfigProblem(f"Model {model.name} has no container.")
        # One container, a multi-model one, or several (deploy/model_copy_spec.py).
        return variant_copy_spec(
            model,
            copy_id=f"{endpoint.name}-{group.variant}-{group.id}-{slot.index}-{attempt}",
            endpoint=endpoint.name,
            variant=group.variant,
            startup_timeout_s=float(variant.startup_timeout_s),
            download_timeout_s=float(variant.download_timeout_s),
            # Each copy of a variant is an instance of its own.
            placement=for_variant(variant, f"{group.id}-{slot.index}"),
            # One log stream per instance: a restart on it logs on there.
            log_stream=variant_stream(endpoint.name, group.variant, group.id, slot.index),
        )

    def _start(
        self,
        endpoint: Endpoint,
        group: Group,
        config: EndpointConfig,
        slot: Slot,
        slots: EndpointSlots,
    ) -> None:
        key = (endpoint.name.lower(), group.id, slot.index)
        attempt = self._started.get(key, 0)
        try:
            spec = self.copy_spec(endpoint, group, config, slot, attempt)
        except ConfigProblem as exc:
            self._failed(endpoint.name, slot, slots, str(exc))
            return
        self._started[key] = attempt + 1
        slot.starting = asyncio.create_task(self._starting(endpoint.name, slot, slots, spec))

    async def _starting(self, name: str, slot: Slot, slots: EndpointSlots, spec: CopySpec) -> None:
        try:
            copy = await self.fleet.start(spec)
        except StartFailed as exc:
            self._failed(name, slot, slots, exc.reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("starting copy %s failed", spec.copy_id)
            self._failed(name, slot, slots, f"Starting a copy failed unexpectedly: {exc}")
        else:
            if slots.slots.get(slot.key) is slot:
                slot.copy = copy
                slot.last_error = None
                slot.start_failure = None
            else:
                self._stop_copy(slots, copy)
        finally:
            slot.starting = None
            self.poke()

    def _failed(self, name: str, slot: Slot, slots: EndpointSlots, reason: str) -> None:
        slot.last_error = reason
        slot.start_failure = reason
        slot.backoff(self.clock.now())
        record = self.store.get(KIND, name)
        if record is not None and record.doc.get("status") == EndpointStatus.CREATING.value:
            slots.fatal = slots.fatal or reason
        log.warning("endpoint %s: %s", name, reason)

    def _copy_exited(self, copy: Copy) -> None:
        for slots in self.endpoints.values():
            for slot in slots.slots.values():
                if slot.copy is copy:
                    slot.copy = None
                    if (
                        copy.ready_at is not None
                        and self.clock.now() - copy.ready_at > STABLE_AFTER_S
                    ):
                        slot.failures = 0
                    slot.last_error = f"copy {copy.copy_id} {copy.failure_reason}"
                    slot.backoff(self.clock.now())
                    self.poke()
                    return

    def _retire(self, slots: EndpointSlots, slot: Slot) -> None:
        if slot.starting is not None:
            slot.starting.cancel()
        if slot.copy is not None:
            copy, slot.copy = slot.copy, None
            self._stop_copy(slots, copy)

    def _retire_all(self, slots: EndpointSlots) -> None:
        for slot in list(slots.slots.values()):
            self._retire(slots, slot)
        slots.slots.clear()

    def _stop_copy(self, slots: EndpointSlots, copy: Copy) -> None:
        async def stopping() -> None:
            try:
                await self.fleet.stop(copy)
            finally:
                self.poke()

        task = asyncio.create_task(stopping())
        slots.stopping.add(task)
        task.add_done_callback(slots.stopping.discard)

    def _delete(self, endpoint: Endpoint, slots: EndpointSlots) -> None:
        self.router.withdraw(endpoint.name)
        self.serverless.forget(endpoint.name)
        slots.route_signature = None
        self._retire_all(slots)
        if slots.busy() or any(guard(endpoint) for guard in self._delete_guards):
            return
        with self.store.transaction():
            self.store.delete(KIND, endpoint.name)
            self.store.drop_tags(endpoint.arn)
        self.endpoints.pop(endpoint.name.lower(), None)

    def _teardown(self, key: str) -> None:
        slots = self.endpoints.pop(key, None)
        if slots is not None:
            self._retire_all(slots)
        self.router.withdraw(key)
        self.serverless.forget(key)

    # -- observing and publishing -----------------------------------------

    def _active_copies(self, group: Group, slots: EndpointSlots) -> tuple[Copy, ...]:
        copies = []
        for index in range(min(group.active, group.target)):
            slot = slots.slots.get((group.id, index))
            if slot is not None and slot.ready and slot.copy is not None:
                copies.append(slot.copy)
        return tuple(copies)

    def _publish(
        self, endpoint: Endpoint, slots: EndpointSlots, configs: dict[str, EndpointConfig]
    ) -> None:
        variants = []
        for variant in endpoint.variants:
            routing = Routing.LEAST_OUTSTANDING_REQUESTS
            groups = []
            gate = None
            for group in endpoint.groups_of(variant.name):
                config = configs.get(group.config_name)
                spec = config.variant(variant.name) if config else None
                if spec is not None:
                    routing = spec.routing
                settings = self._serverless_settings(endpoint, variant.name, config)
                if settings is not None:
                    gate = self.serverless.gate(endpoint.name, variant.name, settings)
                groups.append(
                    GroupRoute(
                        group.config_name,
                        group.share,
                        self._active_copies(group, slots),
                        capture=self._captures.of(group.config_name, config),
                    )
                )
            variants.append(
                VariantRoute(variant.name, variant.weight, routing, tuple(groups), serverless=gate)
            )
        component_based = any(c.component_based for c in configs.values())
        signature = (
            endpoint.status,
            tuple(
                (
                    v.name,
                    v.weight,
                    v.routing,
                    tuple((g.share, tuple(map(id, g.copies)), g.capture) for g in v.groups),
                    id(v.serverless),
                )
                for v in variants
            ),
        )
        # Shadow variants are routed apart: copies of production requests, never answers.
        flags = tuple(v.shadow for v in endpoint.variants)
        if (signature, flags) == slots.route_signature:
            return
        slots.route_signature = (signature, flags)
        production_weight = sum(v.weight for v in endpoint.production_variants)
        self.router.publish(
            EndpointRoute.build(
                endpoint.name,
                endpoint.status.value,
                tuple(r for r, shadow in zip(variants, flags, strict=True) if not shadow),
                component_based=component_based,
                shadows=tuple(
                    ShadowRoute(r, sampling_fraction(r.weight, production_weight))
                    for r, shadow in zip(variants, flags, strict=True)
                    if shadow
                ),
            )
        )

    def _observe(
        self, endpoint: Endpoint, slots: EndpointSlots, configs: dict[str, EndpointConfig]
    ) -> dict[str, ObservedVariant]:
        observed: dict[str, ObservedVariant] = {}
        for variant in endpoint.variants:
            count = 0
            images: dict[tuple[str, str], float] = {}
            for group in endpoint.groups_of(variant.name):
                config = configs.get(group.config_name)
                if config is not None and config.component_based:
                    count += min(group.active, group.target)
                    continue
                for copy in self._active_copies(group, slots):
                    count += 1
                    # A multi-container copy shows each of its containers' images.
                    for shown in copy.members or (copy,):
                        key = (shown.spec.image, shown.resolved_image)
                        images.setdefault(key, shown.ready_at or 0.0)
            previous = endpoint.observed.get(variant.name, ObservedVariant())
            observed[variant.name] = ObservedVariant(
                current_count=count,
                images=tuple((s, r, round(t, 3)) for (s, r), t in sorted(images.items())),
                status=previous.status,
            )
        return observed

    def _save(self, endpoint: Endpoint, observed: dict[str, ObservedVariant]) -> None:
        """Write status and observations back if they changed (re-reading first)."""
        record = self.store.get(KIND, endpoint.name)
        if record is None:
            return
        current = endpoint_from_record(record)
        updated = endpoint.with_changes(observed=observed)
        if updated.to_doc() != current.to_doc() or updated.modified != current.modified:
            self.store.put(updated.to_record())
