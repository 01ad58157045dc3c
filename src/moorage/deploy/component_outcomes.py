"""How inference components' statuses move on, given what their copies are doing.

:func:`advance` is the decision part of the component runner's pass
(:mod:`moorage.deploy.components`): from the components, the placement and
the slots (which copies run, which failed to start, which adapters are
loaded) it returns the components' new states, the placement after any
copies are dropped, the components whose deletion has finished and the
adapters to unload. It performs no I/O.

- ``Creating``: ``InService`` once every copy runs (and has settled every
  adapter of the component); ``Failed`` as soon as a copy cannot start, its
  copies then released.
- ``Updating``: ``InService`` once every copy of the current generation
  runs; the old generation's copies are then dropped (they leave the routes
  and drain). A new copy that cannot start rolls the component back to its
  previous specification and copy count, with a ``FailureReason``. A new
  specification given with a ``DeploymentConfig`` is rolled out in batches
  instead (:mod:`moorage.deploy.component_rollout`).
- ``Deleting``: gone once no copy of it runs or stops (and, for an adapter,
  once it is unloaded everywhere).

Adapters complete when every running copy of their base has loaded them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moorage.deploy import component_rollout as rolling
from moorage.deploy.component_layout import routed
from moorage.deploy.component_plan import ScalingLimits, drop_copies, scaling_limits
from moorage.deploy.component_slots import CopySlot, EndpointCopies
from moorage.deploy.driver import AlarmCheck, no_alarms
from moorage.domain.component_placement import EndpointPlacement, PlacedComponentCopy
from moorage.domain.endpoint import Endpoint
from moorage.domain.endpoint_config import EndpointConfig
from moorage.domain.inference_component import (
    ComponentStatus,
    InferenceComponent,
    adapter_name,
)
from moorage.fleet.base import Copy

_ACTIVE = frozenset(
    {ComponentStatus.CREATING, ComponentStatus.UPDATING, ComponentStatus.IN_SERVICE}
)


@dataclass(frozen=True)
class Inputs:
    now: float
    endpoint: Endpoint
    config: EndpointConfig | None
    state: EndpointCopies
    components: Mapping[str, InferenceComponent]
    placement: EndpointPlacement | None
    # Rollback alarms of rolling updates: names -> the first in ALARM.
    alarms: AlarmCheck = no_alarms
    # Lower-cased names of components whose rolling update this server sees first.
    resumed: frozenset[str] = frozenset()


@dataclass
class Result:
    # Lower-cased name -> the component after this pass (deleted ones excluded).
    components: dict[str, InferenceComponent]
    # The placement after dropped copies; None when unchanged.
    placement: EndpointPlacement | None = None
    deleted: list[InferenceComponent] = field(default_factory=list)
    # Adapter component name -> its names to unload from the base's copies.
    unload: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Clock times at which a pass must run (rolling updates' bakes and deadlines).
    wake_at: list[float] = field(default_factory=list)


def advance(inputs: Inputs) -> Result:
    result = Result(dict(inputs.components))
    placement = inputs.placement
    for key in sorted(inputs.components):
        component = inputs.components[key]
        if component.base is None:
            after, placement = _advance_base(inputs, component, placement, result)
        else:
            after = _advance_adapter(inputs, component, result)
        if after is None:
            result.deleted.append(component)
            del result.components[key]
        else:
            result.components[key] = after
    if placement is not inputs.placement:
        result.placement = placement
    return result


def _advance_base(
    inputs: Inputs,
    component: InferenceComponent,
    placement: EndpointPlacement | None,
    result: Result,
) -> tuple[InferenceComponent | None, EndpointPlacement | None]:
    state = inputs.state
    placed = placement.copies_of(component.name) if placement else []
    slots = {s.key.copy_id: s for s in state.slots_of(component.name)}
    status = component.status
    if status is ComponentStatus.DELETING:
        return (None if not state.busy(component.name) else component), placement
    if status is ComponentStatus.CREATING:
        failure = _start_failure(placed, slots)
        if failure is not None:
            placement = _drop(inputs, placement, component, [p.copy.copy_id for p in placed])
            failed = component.with_changes(
                status=ComponentStatus.FAILED, failure_reason=failure, modified=inputs.now
            )
            return failed, placement
        if _complete(inputs, component, placed, slots):
            return component.with_changes(
                status=ComponentStatus.IN_SERVICE, modified=inputs.now
            ), placement
    if status is ComponentStatus.UPDATING and rolling.rolling_of(component) is not None:
        return _advance_rolling(inputs, component, placement, result)
    if status is ComponentStatus.UPDATING:
        previous = component.previous
        deployment = rolling.deployment_of(component)
        old_ids = set(previous.copy_ids) if previous else set()
        new = [p for p in placed if p.copy.copy_id not in old_ids]
        failure = _start_failure(new, slots)
        if failure is not None and previous is not None:
            placement = _drop(inputs, placement, component, [p.copy.copy_id for p in new])
            restored = component.with_changes(
                status=ComponentStatus.IN_SERVICE,
                spec=previous.spec,
                desired_copies=previous.desired_copies,
                generation=previous.generation,
                previous=None,
                deployment=None,
                failure_reason=f"The update failed and was rolled back: {failure}",
                modified=inputs.now,
            )
            return restored, placement
        if _complete(inputs, component, placed, slots):
            old = [p.copy.copy_id for p in placed if p.generation != component.generation]
            placement = _drop(inputs, placement, component, old)
            done = component.with_changes(
                status=ComponentStatus.IN_SERVICE,
                previous=None,
                deployment=None,
                last_deployment_config=(
                    deployment.config if deployment else component.last_deployment_config
                ),
                modified=inputs.now,
            )
            return done, placement
    return component, placement


def _advance_rolling(
    inputs: Inputs,
    component: InferenceComponent,
    placement: EndpointPlacement | None,
    result: Result,
) -> tuple[InferenceComponent, EndpointPlacement | None]:
    capacity = placement.variant(component.variant) if placement else None
    if placement is None or capacity is None:
        return component, placement
    adapters = _adapters_of(inputs, component)
    driven = rolling.drive(
        rolling.Drive(
            now=inputs.now,
            component=component,
            capacity=capacity,
            slots=inputs.state.slots_of(component.name),
            settled=lambda slot: all(slot.settled(a) for a in adapters),
            alarms=inputs.alarms,
            resumed=component.name.lower() in inputs.resumed,
            limits=_limits(inputs, component),
        )
    )
    result.wake_at.extend(driven.wake_at)
    if driven.capacity is not capacity:
        placement = placement.with_variant(driven.capacity)
    return driven.component, placement


def _advance_adapter(
    inputs: Inputs, adapter: InferenceComponent, result: Result
) -> InferenceComponent | None:
    state = inputs.state
    assert adapter.base is not None
    base = inputs.components.get(adapter.base.lower())
    base_slots = [s for s in state.slots_of(adapter.base) if s.ready]
    name = adapter.adapter_name
    previous = adapter.previous
    if adapter.status is ComponentStatus.DELETING:
        names = {name}
        if previous is not None:
            names.add(adapter_name(adapter.name, previous.generation))
        slots = state.slots_of(adapter.base)
        pending = any(n in s.loaded or n in s.loading for s in slots for n in names)
        if pending:
            result.unload[adapter.name] = tuple(sorted(names))
            return adapter
        return None if not state.busy(adapter.name) else adapter
    if adapter.status not in (ComponentStatus.CREATING, ComponentStatus.UPDATING):
        return adapter
    failure = next((s.load_failures[name] for s in base_slots if name in s.load_failures), None)
    if failure is not None:
        result.unload[adapter.name] = (name,)
        if adapter.status is ComponentStatus.CREATING or previous is None:
            return adapter.with_changes(
                status=ComponentStatus.FAILED, failure_reason=failure, modified=inputs.now
            )
        return adapter.with_changes(
            status=ComponentStatus.IN_SERVICE,
            spec=previous.spec,
            generation=previous.generation,
            previous=None,
            failure_reason=f"The update failed and was rolled back: {failure}",
            modified=inputs.now,
        )
    base_settled = base is not None and base.status is not ComponentStatus.CREATING
    if base_settled and all(name in s.loaded for s in base_slots):
        if adapter.status is ComponentStatus.UPDATING and previous is not None:
            result.unload[adapter.name] = (adapter_name(adapter.name, previous.generation),)
        return adapter.with_changes(
            status=ComponentStatus.IN_SERVICE, previous=None, modified=inputs.now
        )
    return adapter


def _start_failure(placed: list[PlacedComponentCopy], slots: Mapping[str, CopySlot]) -> str | None:
    for item in placed:
        slot = slots.get(item.copy.copy_id)
        if slot is not None and slot.start_failure is not None:
            return slot.start_failure
    return None


def _complete(
    inputs: Inputs,
    component: InferenceComponent,
    placed: list[PlacedComponentCopy],
    slots: Mapping[str, CopySlot],
) -> bool:
    """Every copy of the current generation runs and has settled the component's adapters."""
    current = [p for p in placed if p.generation == component.generation]
    if len(current) != component.desired_copies:
        return False
    adapters = _adapters_of(inputs, component)
    for item in current:
        slot = slots.get(item.copy.copy_id)
        if slot is None or not slot.ready:
            return False
        if any(not slot.settled(a) for a in adapters):
            return False
    return True


def _adapters_of(inputs: Inputs, component: InferenceComponent) -> list[str]:
    """Names of the adapters every copy of ``component`` must have settled."""
    return [
        a.adapter_name
        for a in inputs.components.values()
        if a.base is not None and a.base.lower() == component.name.lower() and a.status in _ACTIVE
    ]


def _limits(inputs: Inputs, component: InferenceComponent) -> ScalingLimits | None:
    spec = inputs.config.variant(component.variant) if inputs.config else None
    return scaling_limits(spec) if spec is not None else None


def _drop(
    inputs: Inputs,
    placement: EndpointPlacement | None,
    component: InferenceComponent,
    copy_ids: list[str],
) -> EndpointPlacement | None:
    if placement is None or not copy_ids:
        return placement
    capacity = placement.variant(component.variant)
    if capacity is None:
        return placement
    return placement.with_variant(
        drop_copies(capacity, copy_ids, limits=_limits(inputs, component))
    )


# -- what serves a component ----------------------------------------------


def serving_generation(component: InferenceComponent) -> int:
    """The generation that takes traffic: the old one until an update completes."""
    previous = component.previous
    if component.status is ComponentStatus.UPDATING and previous is not None:
        return previous.generation
    return component.generation


def serving_adapter(adapter: InferenceComponent) -> str:
    """The adapter's name in the model servers that takes traffic (the old one while updating)."""
    previous = adapter.previous
    if adapter.status is ComponentStatus.UPDATING and previous is not None:
        return adapter_name(adapter.name, previous.generation)
    return adapter.adapter_name


def _serving_slots(state: EndpointCopies, component: InferenceComponent) -> list[CopySlot]:
    rollout = rolling.rolling_of(component)
    if rollout is not None and component.previous is not None:
        # Both generations serve, as many of each as the rollout's step says.
        ready = [s for s in state.slots_of(component.name) if s.ready]
        old, new = component.previous.generation, component.generation
        return routed(
            [s for s in ready if s.key.generation == old],
            [s for s in ready if s.key.generation == new],
            rolling.current_layout(rollout),
            lambda slot: slot.key.copy_id,
            component.previous.copy_ids,
        )
    generation = serving_generation(component)
    slots = [
        s for s in state.slots_of(component.name) if s.ready and s.key.generation == generation
    ]
    return sorted(slots, key=lambda s: s.key.copy_id)


def serving_copies(
    state: EndpointCopies, component: InferenceComponent, base: InferenceComponent | None
) -> tuple[Copy, ...]:
    """The running copies that serve ``component`` (its base's, for an adapter)."""
    if component.base is None:
        return tuple(s.copy for s in _serving_slots(state, component) if s.copy is not None)
    if base is None:
        return ()
    name = serving_adapter(component)
    return tuple(
        s.copy for s in _serving_slots(state, base) if s.copy is not None and name in s.loaded
    )


def observe(
    state: EndpointCopies, component: InferenceComponent, base: InferenceComponent | None
) -> InferenceComponent:
    """The component with its current copy count and deployed image as observed."""
    if component.base is not None:
        return component
    copies = serving_copies(state, component, base)
    image = component.deployed_image
    for copy in copies:
        seen = (copy.spec.image, copy.resolved_image, round(copy.ready_at or 0.0, 3))
        if image is None or image[:2] != seen[:2]:
            image = seen
        break
    return component.with_changes(current_copies=len(copies), deployed_image=image)
