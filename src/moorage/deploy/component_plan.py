"""Planning copies of inference components onto a variant's instances (pure).

``control/`` calls these functions while it handles CreateInferenceComponent,
UpdateInferenceComponent(RuntimeConfig) and DeleteInferenceComponent, and
the component runner (``deploy/components.py``) when it retires an old
generation or rolls a failed change back. Each takes an immutable
:class:`~moorage.domain.component_placement.VariantCapacity` and returns a new
one, or raises :class:`~moorage.placement.DoesNotFit` saying what did not fit
where; nothing is changed by a plan that fails.

With managed instance scaling enabled a variant grows when copies do not fit
(up to ``MaxInstanceCount``) and releases instances left without copies (down
to ``MinInstanceCount``); without it, the instances are those of
``InitialInstanceCount``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from moorage.domain.component_placement import VariantCapacity
from moorage.domain.endpoint import Endpoint
from moorage.domain.endpoint_config import VariantSpec
from moorage.placement import (
    CopyRequest,
    DoesNotFit,
    InstanceSlot,
    InstanceType,
    Requirements,
    Strategy,
    place,
    plan_scale_in,
    plan_scale_out,
    remove,
)

# Bounds that keep one plan cheap (a few placements of at most this many copies
# over at most this many instances); AWS has account quotas of the same kind.
MAX_COPIES = 10_000
MAX_INSTANCES = 1_000


@dataclass(frozen=True)
class ScalingLimits:
    """``ManagedInstanceScaling`` of a variant, when enabled."""

    min_instances: int
    max_instances: int


def scaling_limits(variant: VariantSpec) -> ScalingLimits | None:
    """The variant's managed-scaling bounds, or None when it does not scale.

    A bound the config leaves out is the variant's ``InitialInstanceCount``
    (AWS documents no default), so an omitted bound never scales past what
    was asked for. moorage grows a variant to at most :data:`MAX_INSTANCES`.
    """
    managed = variant.managed_scaling
    if managed is None or not managed.enabled:
        return None
    initial = variant.initial_instance_count
    low = initial if managed.min_instances is None else managed.min_instances
    high = max(low, initial) if managed.max_instances is None else managed.max_instances
    return ScalingLimits(min(low, MAX_INSTANCES), min(max(low, high), MAX_INSTANCES))


def instance_id(number: int) -> str:
    return f"instance-{number}"


def initial_capacity(variant: str, instance_type: InstanceType, count: int) -> VariantCapacity:
    """A variant's instances before any copy is placed."""
    instances = tuple(InstanceSlot(instance_id(n), instance_type) for n in range(1, count + 1))
    return VariantCapacity(variant, instance_type, instances)


def add_copies(
    capacity: VariantCapacity,
    component: str,
    requirements: Requirements,
    count: int,
    strategy: Strategy,
    *,
    generation: int,
    limits: ScalingLimits | None,
) -> VariantCapacity:
    """``count`` more copies of ``component``, scaling out if allowed and needed."""
    if count <= 0:
        return capacity
    try:
        placement = place(capacity.instances, component, requirements, count, strategy)
    except DoesNotFit:
        if limits is None:
            raise
        scale = plan_scale_out(
            capacity.instances,
            capacity.instance_type,
            [CopyRequest(component, requirements, count, strategy)],
            min_instances=limits.min_instances,
            max_instances=limits.max_instances,
            new_instance_id=instance_id,
        )
        placement = scale.placement
    generations = {a.copy.copy_id: generation for a in placement.assignments}
    return capacity.with_instances(placement.instances, generations)


def remove_copies(
    capacity: VariantCapacity,
    component: str,
    count: int,
    strategy: Strategy,
    *,
    limits: ScalingLimits | None,
) -> VariantCapacity:
    """``count`` fewer copies of ``component``, chosen by its placement strategy."""
    if count <= 0:
        return capacity
    removal = remove(capacity.instances, component, count, strategy)
    return release_idle(capacity.with_instances(removal.instances), limits)


def drop_copies(
    capacity: VariantCapacity, copy_ids: Collection[str], *, limits: ScalingLimits | None
) -> VariantCapacity:
    """The capacity without the copies ``copy_ids`` (a deleted component, an old generation)."""
    drop = set(copy_ids)
    if not drop:
        return capacity
    instances = tuple(
        InstanceSlot(
            slot.instance_id,
            slot.instance_type,
            tuple(c for c in slot.copies if c.copy_id not in drop),
        )
        if any(c.copy_id in drop for c in slot.copies)
        else slot
        for slot in capacity.instances
    )
    return release_idle(capacity.with_instances(instances), limits)


def release_idle(capacity: VariantCapacity, limits: ScalingLimits | None) -> VariantCapacity:
    """Release instances without copies, down to ``MinInstanceCount`` (managed scaling only)."""
    if limits is None:
        return capacity
    plan = plan_scale_in(capacity.instances, min_instances=limits.min_instances)
    if not plan.release:
        return capacity
    return capacity.with_instances(plan.instances)


def with_instance_count(endpoint: Endpoint, variant: str, count: int) -> Endpoint:
    """The endpoint reporting ``count`` instances for ``variant`` (after managed scaling)."""
    variants = tuple(
        replace(v, desired_count=count) if v.name == variant else v for v in endpoint.variants
    )
    groups = tuple(
        replace(g, target=count, active=count) if g.variant == variant else g
        for g in endpoint.groups
    )
    return endpoint.with_changes(variants=variants, groups=groups)
