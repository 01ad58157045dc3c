"""The component runner: keeps inference-component copies matching their placement.

The reconciler (:mod:`moorage.deploy.reconciler`) calls :meth:`ComponentRunner.hook`
for every endpoint on each pass. For an endpoint that hosts inference
components the runner, level-triggered like the reconciler:

1. compares the copies placed in the endpoint's placement record (written by
   ``control/`` with the pure scheduler) with the model-server processes it
   runs, stops the ones no longer placed (after they left the routes and
   drained) and starts the missing ones through ``fleet/``;
2. loads adapter components into the running copies of their base;
3. moves each component's status on (:mod:`moorage.deploy.component_outcomes`):
   ``Creating`` -> ``InService`` or ``Failed``, ``Updating`` -> ``InService``
   (retiring the old generation, or rolling back when a new copy cannot
   start; a rolling update advances its persisted state machine, watching
   its rollback alarms: :mod:`moorage.deploy.component_rollout`),
   ``Deleting`` -> gone;
4. publishes the endpoint's component routes for the router
   (:mod:`moorage.runtime.components`) and writes back what it observed.

Starts, stops and adapter loads are tasks that poke the reconciler when they
finish, so a pass never waits on slow work.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping

from moorage.clock import Clock
from moorage.console import event
from moorage.deploy import component_outcomes as outcomes
from moorage.deploy.component_copy_spec import ComponentProblem, copy_spec
from moorage.deploy.component_plan import with_instance_count
from moorage.deploy.component_slots import CopyKey, CopySlot, EndpointCopies
from moorage.deploy.console_events import component_lines
from moorage.deploy.driver import AlarmCheck, no_alarms
from moorage.domain import component_placement as placement_domain
from moorage.domain import endpoint_config as config_domain
from moorage.domain import inference_component as ic
from moorage.domain.component_placement import EndpointPlacement, VariantCapacity
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.endpoint_config import EndpointConfig, Routing
from moorage.domain.inference_component import ComponentStatus, InferenceComponent
from moorage.domain.model import ModelData
from moorage.fleet.base import Copy, Fleet, StartFailed
from moorage.logs.names import component_stream
from moorage.runtime.components import ComponentRoute
from moorage.runtime.router import Router
from moorage.store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)

# Component statuses whose ready copies take traffic.
_ROUTED = frozenset(
    {ComponentStatus.CREATING, ComponentStatus.UPDATING, ComponentStatus.IN_SERVICE}
)


class ComponentRunner:
    def __init__(
        self,
        store: Store,
        fleet: Fleet,
        router: Router,
        clock: Clock,
        *,
        poke: Callable[[], None] = lambda: None,
        schedule: Callable[[float], None] = lambda at: None,
        alarms: AlarmCheck = no_alarms,
    ) -> None:
        self.store = store
        self.fleet = fleet
        self.router = router
        self.clock = clock
        self.poke = poke
        # Makes a pass run at a clock time (the end of a bake, a rollout's deadline).
        self.schedule = schedule
        self.alarms = alarms
        self.endpoints: dict[str, EndpointCopies] = {}
        # Components (lower-cased) whose rolling update this server has seen.
        self._resumed: set[str] = set()
        self._closed = False
        # Fleet copy ids stay unique even when a placement reuses a copy id.
        self._sequence = itertools.count(1)
        fleet.on_exit(self._copy_exited)

    def hook(self, endpoint: Endpoint, fleet_view: object) -> Endpoint:
        """The reconciler's per-endpoint hook; never raises."""
        if self._closed:
            return endpoint
        try:
            return self.reconcile(endpoint)
        except StoreUnavailable:
            return endpoint  # logged once by the store
        except Exception:
            log.exception("reconciling the inference components of %s failed", endpoint.name)
            return endpoint

    def close(self) -> None:
        """Stop acting (server shutdown): cancel starts and loads; the fleet stops processes."""
        self._closed = True
        for state in self.endpoints.values():
            for slot in state.slots.values():
                if slot.starting is not None:
                    slot.starting.cancel()
                for task in slot.loading.values():
                    task.cancel()

    # -- one endpoint -----------------------------------------------------

    def reconcile(self, endpoint: Endpoint) -> Endpoint:
        key = endpoint.name.lower()
        if endpoint.status is EndpointStatus.DELETING:
            self._take_down(endpoint)
            return endpoint
        components = {
            c.name.lower(): c
            for c in (ic.component_from_record(r) for r in self.store.list_records(ic.KIND))
            if c.endpoint_name.lower() == key
        }
        placement = self._placement(endpoint)
        state = self.endpoints.get(key)
        if state is None:
            if not components and placement is None:
                return endpoint
            state = self.endpoints.setdefault(key, EndpointCopies())
        config = self._config(endpoint)
        self._match(endpoint, config, state, components, placement)
        self._load_adapters(state, components)
        result = outcomes.advance(
            outcomes.Inputs(
                self.clock.now(),
                endpoint,
                config,
                state,
                components,
                placement,
                alarms=self.alarms,
                resumed=self._first_seen(components),
            )
        )
        for adapter, names in result.unload.items():
            self._unload(state, adapter, names)
        for at in result.wake_at:
            self.schedule(at)
        self._publish(endpoint, config, state, result.components)
        return self._save(endpoint, components, result, state)

    def _first_seen(self, components: Mapping[str, InferenceComponent]) -> frozenset[str]:
        """Rolling updates seen for the first time since this server started."""
        rolling = {k for k, c in components.items() if c.deployment and c.previous is not None}
        fresh = frozenset(rolling - self._resumed)
        self._resumed.update(fresh)
        self._resumed.difference_update(k for k in components if k not in rolling)
        return fresh

    def _placement(self, endpoint: Endpoint) -> EndpointPlacement | None:
        record = self.store.get(placement_domain.KIND, endpoint.name)
        if record is None:
            return None
        placement = placement_domain.placement_from_record(record)
        return placement if placement.endpoint_created == endpoint.created else None

    def _config(self, endpoint: Endpoint) -> EndpointConfig | None:
        record = self.store.get(config_domain.KIND, endpoint.config_name)
        return config_domain.endpoint_config_from_record(record) if record else None

    def _take_down(self, endpoint: Endpoint) -> None:
        """An endpoint being deleted: stop every copy, then remove its components.

        DeleteEndpoint accepts an endpoint whose components are all being
        deleted (``control/endpoints.py``); they go with it. Their records
        and the placement are removed once no copy runs or stops, and the
        reconciler keeps the endpoint's record until then (:meth:`holds`).
        """
        key = endpoint.name.lower()
        state = self.endpoints.get(key)
        if state is not None:
            for slot in list(state.slots.values()):
                self._retire(state, slot)
            state.slots.clear()
            if state.stopping or state.unloading:
                return  # each stop pokes the loop when it ends
            del self.endpoints[key]
        components = [
            ic.component_from_record(r)
            for r in self.store.list_records(ic.KIND)
            if str(r.doc.get("endpoint", "")).lower() == key
        ]
        if not components and self.store.get(placement_domain.KIND, endpoint.name) is None:
            return
        with self.store.transaction():
            for component in components:
                self.store.delete(ic.KIND, component.name)
                self.store.drop_tags(component.arn)
            if self.store.get(placement_domain.KIND, endpoint.name) is not None:
                self.store.delete(placement_domain.KIND, endpoint.name)

    def holds(self, endpoint: Endpoint) -> bool:
        """Whether a ``Deleting`` endpoint must wait for its components to be taken down."""
        if endpoint.name.lower() in self.endpoints:
            return True
        key = endpoint.name.lower()
        return any(
            str(r.doc.get("endpoint", "")).lower() == key for r in self.store.list_records(ic.KIND)
        )

    # -- matching processes to the placement ------------------------------

    def _match(
        self,
        endpoint: Endpoint,
        config: EndpointConfig | None,
        state: EndpointCopies,
        components: Mapping[str, InferenceComponent],
        placement: EndpointPlacement | None,
    ) -> None:
        wanted: dict[str, tuple[CopyKey, VariantCapacity]] = {}
        for capacity in placement.variants if placement else ():
            for placed in capacity.copies():
                copy = placed.copy
                key = CopyKey(
                    copy.copy_id,
                    copy.component,
                    placed.generation,
                    placed.instance_id,
                    copy.accelerator_indices,
                )
                wanted[copy.copy_id] = (key, capacity)
        for copy_id, slot in list(state.slots.items()):
            entry = wanted.get(copy_id)
            if entry is None or entry[0] != slot.key:
                self._retire(state, state.slots.pop(copy_id))
        now = self.clock.now()
        for copy_id, (key, capacity) in wanted.items():
            slot = state.slots.setdefault(copy_id, CopySlot(key))
            if slot.copy is not None or slot.starting is not None or now < slot.retry_at:
                continue
            component = components.get(key.component.lower())
            spec = _spec_of(component, key.generation) if component else None
            if component is None or spec is None or component.status not in _ROUTED:
                continue
            self._start(endpoint, config, state, component, spec, slot, capacity)

    def _start(
        self,
        endpoint: Endpoint,
        config: EndpointConfig | None,
        state: EndpointCopies,
        component: InferenceComponent,
        spec: Mapping[str, object],
        slot: CopySlot,
        capacity: VariantCapacity,
    ) -> None:
        try:
            start = copy_spec(
                self.store,
                copy_id=f"{slot.key.copy_id}-{next(self._sequence)}",
                endpoint=endpoint.name,
                component=component.name,
                variant=component.variant,
                spec=spec,
                variant_spec=config.variant(component.variant) if config else None,
                instance_type=capacity.instance_type,
                devices=slot.key.devices,
                instance_id=slot.key.instance_id,
                # One log stream per copy: a restart in its place logs on there.
                log_stream=component_stream(
                    endpoint.name, component.variant, slot.key.instance_id, slot.key.copy_id
                ),
            )
        except ComponentProblem as exc:
            self._start_failed(slot, str(exc))
            return

        async def starting() -> None:
            try:
                copy = await self.fleet.start(start)
            except StartFailed as exc:
                self._start_failed(slot, exc.reason)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("starting copy %s failed", start.copy_id)
                self._start_failed(slot, f"Starting a copy failed unexpectedly: {exc}")
            else:
                if state.slots.get(slot.key.copy_id) is slot and not self._closed:
                    slot.running(copy)
                else:
                    self._stop(state, slot.key.component, copy)
            finally:
                slot.starting = None
                self.poke()

        slot.starting = asyncio.create_task(starting())

    def _start_failed(self, slot: CopySlot, reason: str) -> None:
        slot.start_failure = reason
        slot.backoff(self.clock.now())
        log.warning("inference component copy %s: %s", slot.key.copy_id, reason)

    def _copy_exited(self, copy: Copy) -> None:
        for state in self.endpoints.values():
            for slot in state.slots.values():
                if slot.copy is copy:
                    slot.copy = None
                    slot.loaded = set()
                    slot.backoff(self.clock.now())
                    self.poke()
                    return

    def _retire(self, state: EndpointCopies, slot: CopySlot) -> None:
        if slot.starting is not None:
            slot.starting.cancel()
        for task in slot.loading.values():
            task.cancel()
        if slot.copy is not None:
            copy, slot.copy = slot.copy, None
            self._stop(state, slot.key.component, copy)

    def _stop(self, state: EndpointCopies, component: str, copy: Copy) -> None:
        # The copy has already left the routes (they are published in this same
        # pass, before the task runs); fleet.stop waits for its in-flight requests.
        async def stopping() -> None:
            try:
                await self.fleet.stop(copy)
            finally:
                self.poke()

        state.track(state.stopping, component, asyncio.create_task(stopping()))

    # -- adapters ---------------------------------------------------------

    def _load_adapters(
        self, state: EndpointCopies, components: Mapping[str, InferenceComponent]
    ) -> None:
        for adapter in components.values():
            if adapter.base is None or adapter.status not in _ROUTED:
                continue
            url = (adapter.spec.get("Container") or {}).get("ArtifactUrl")
            if not url:
                continue
            name = adapter.adapter_name
            for slot in state.slots_of(adapter.base):
                if not slot.ready or slot.settled(name) or name in slot.loading:
                    continue
                slot.loading[name] = asyncio.create_task(
                    self._load(slot, name, ModelData(url=str(url)))
                )

    async def _load(self, slot: CopySlot, name: str, artifact: ModelData) -> None:
        copy = slot.copy
        try:
            if copy is None:
                return
            await self.fleet.load_adapter(copy, name, artifact)
        except StartFailed as exc:
            if slot.copy is copy:
                slot.load_failures[name] = exc.reason
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("loading adapter %s failed", name)
            if slot.copy is copy:
                slot.load_failures[name] = f"Adapter {name} failed to load: {exc}"
        else:
            if slot.copy is copy:
                slot.loaded.add(name)
        finally:
            slot.loading.pop(name, None)
            self.poke()

    def _unload(self, state: EndpointCopies, adapter: str, names: tuple[str, ...]) -> None:
        for slot in list(state.slots.values()):
            copy = slot.copy
            for name in names:
                if copy is None or name not in slot.loaded:
                    continue
                slot.loaded.discard(name)

                async def unloading(copy: Copy = copy, name: str = name) -> None:
                    try:
                        await self.fleet.unload_adapter(copy, name)
                    finally:
                        self.poke()

                state.track(state.unloading, adapter, asyncio.create_task(unloading()))

    # -- routes and observations ------------------------------------------

    def _publish(
        self,
        endpoint: Endpoint,
        config: EndpointConfig | None,
        state: EndpointCopies,
        components: Mapping[str, InferenceComponent],
    ) -> None:
        table: dict[str, ComponentRoute] = {}
        for key, component in components.items():
            if component.status not in _ROUTED:
                continue
            variant = config.variant(component.variant) if config else None
            routing = variant.routing if variant else Routing.LEAST_OUTSTANDING_REQUESTS
            base = components.get(component.base.lower()) if component.base else None
            if component.base is not None and (base is None or base.status not in _ROUTED):
                continue
            table[key] = ComponentRoute(
                name=component.name,
                variant=component.variant,
                config_name=endpoint.config_name,
                routing=routing,
                copies=outcomes.serving_copies(state, component, base),
                desired_copies=base.desired_copies if base else component.desired_copies,
                adapter=outcomes.serving_adapter(component) if component.base else None,
                base=base.name if base else None,
            )
        signature = tuple(
            (k, r.variant, r.routing, tuple(map(id, r.copies)), r.desired_copies, r.adapter)
            for k, r in sorted(table.items())
        )
        if signature == state.route_signature:
            return
        state.route_signature = signature
        self.router.publish_components(endpoint.name, table)

    def _save(
        self,
        endpoint: Endpoint,
        components: Mapping[str, InferenceComponent],
        result: outcomes.Result,
        state: EndpointCopies,
    ) -> Endpoint:
        """Write status changes, observations, placement and instance counts together."""
        writes: list[InferenceComponent] = []
        lines: list[str] = []
        for key, component in result.components.items():
            base = result.components.get(component.base.lower()) if component.base else None
            observed = outcomes.observe(state, component, base)
            if observed != components.get(key):
                writes.append(observed)
                lines += component_lines(components.get(key), observed)
        updated = endpoint
        if result.placement is not None:
            for capacity in result.placement.variants:
                current = endpoint.variant(capacity.variant)
                if current is not None and current.desired_count != len(capacity.instances):
                    updated = with_instance_count(
                        updated, capacity.variant, len(capacity.instances)
                    )
        if not writes and result.placement is None and not result.deleted:
            return endpoint
        now = self.clock.now()
        with self.store.transaction():
            for component in writes:
                self.store.put(component.to_record())
            for component in result.deleted:
                self.store.delete(ic.KIND, component.name)
                self.store.drop_tags(component.arn)
            if result.placement is not None:
                self.store.put(result.placement.to_record(round(now, 3)))
            if updated is not endpoint:
                updated = updated.with_changes(modified=round(now, 3))
                self.store.put(updated.to_record())
        for line in lines:
            event(line)
        if writes or result.placement is not None or result.deleted:
            # Look again at once: a status or rollout step that moved may move on.
            self.poke()
        return updated


def _spec_of(component: InferenceComponent, generation: int) -> Mapping[str, object] | None:
    """The specification a copy of ``generation`` runs (the current or the previous one)."""
    if generation == component.generation:
        return component.spec
    previous = component.previous
    if previous is not None and previous.generation == generation:
        return previous.spec
    return None
