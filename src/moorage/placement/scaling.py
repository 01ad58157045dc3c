"""Managed instance scaling: how many instances a variant needs, and which can go.

A production variant with ``ManagedInstanceScaling`` enabled grows when copies
of its inference components do not fit, up to ``MaxInstanceCount``, and
shrinks down to ``MinInstanceCount`` following its ``ScaleInPolicy``. This
module plans both, purely, on top of :mod:`moorage.placement.scheduler`; the
reconciler (``deploy/``) turns a plan into ``fleet/`` actions (start the new
instances, place, move, then release).

- :func:`plan_scale_out` finds the fewest instances of the variant's type to
  add so that every requested copy fits, or raises :class:`DoesNotFit` when
  even ``MaxInstanceCount`` instances cannot hold them.
- :func:`plan_scale_in` with ``IDLE_RELEASE`` releases instances that hold no
  copies; with ``CONSOLIDATION`` it also moves copies off lightly loaded
  instances (at most ``MaximumStepSize`` of them per plan, AWS's default being
  one) when the others can take them, honouring each component's placement
  strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from moorage.placement.capacity import Workspace
from moorage.placement.catalog import InstanceType
from moorage.placement.errors import DoesNotFit
from moorage.placement.explain import needs_phrase
from moorage.placement.model import (
    DEFAULT_STRATEGY,
    CopyRequest,
    InstanceSlot,
    Placement,
    Strategy,
)
from moorage.placement.scheduler import place_request

# ProductionVariantManagedInstanceScalingScaleInPolicy.MaximumStepSize default.
DEFAULT_MAX_STEP_SIZE = 1


class ScaleInStrategy(StrEnum):
    """``ManagedInstanceScalingScaleInStrategy``."""

    IDLE_RELEASE = "IDLE_RELEASE"
    CONSOLIDATION = "CONSOLIDATION"


@dataclass(frozen=True)
class ScaleOut:
    """Instances to add, and where every requested copy then goes."""

    new_instance_ids: tuple[str, ...]
    placement: Placement

    @property
    def add(self) -> int:
        return len(self.new_instance_ids)


@dataclass(frozen=True)
class Move:
    """A copy to start on ``target`` and then stop on ``source``."""

    copy_id: str
    component: str
    source: str
    target: str
    accelerator_indices: tuple[int, ...]


@dataclass(frozen=True)
class ScaleIn:
    """Instances to release, the moves to make first, and what remains after."""

    release: tuple[str, ...]
    moves: tuple[Move, ...]
    instances: tuple[InstanceSlot, ...]


def _default_id(number: int) -> str:
    return f"instance-{number}"


def _new_slots(
    instances: Sequence[InstanceSlot],
    instance_type: InstanceType,
    count: int,
    new_instance_id: Callable[[int], str],
) -> tuple[InstanceSlot, ...]:
    taken = {slot.instance_id for slot in instances}
    slots: list[InstanceSlot] = []
    number = len(instances)
    while len(slots) < count:
        number += 1
        instance_id = new_instance_id(number)
        if instance_id in taken:
            continue
        taken.add(instance_id)
        slots.append(InstanceSlot(instance_id, instance_type))
    return tuple(slots)


def _largest_first(requests: Sequence[CopyRequest], kind: InstanceType) -> list[CopyRequest]:
    """Requests ordered by copy size, biggest first, which packs more tightly."""

    def size(request: CopyRequest) -> float:
        need = request.requirements
        shares = [need.millicpus / kind.millicpus, need.min_memory_mb / kind.memory_mib]
        if kind.accelerator_count:
            shares.append(need.accelerators / kind.accelerator_count)
        return max(shares)

    return sorted(requests, key=size, reverse=True)


def _lower_bound(
    instances: Sequence[InstanceSlot], kind: InstanceType, requests: Sequence[CopyRequest]
) -> int:
    """Instances needed at least, counting resources in bulk (ignores fragmentation)."""
    workspace = Workspace(instances)
    free_cpu = sum(max(n.free_millicpus, 0) for n in workspace.nodes)
    free_memory = sum(max(n.free_memory, 0) for n in workspace.nodes)
    free_devices = sum(len(n.free_devices) for n in workspace.nodes)
    need_cpu = sum(r.count * r.requirements.millicpus for r in requests)
    need_memory = sum(r.count * r.requirements.min_memory_mb for r in requests)
    need_devices = sum(r.count * r.requirements.accelerators for r in requests)
    bound = 0
    for need, free, per_instance in (
        (need_cpu, free_cpu, kind.millicpus),
        (need_memory, free_memory, kind.memory_mib),
        (need_devices, free_devices, kind.accelerator_count),
    ):
        if need > free and per_instance:
            bound = max(bound, math.ceil((need - free) / per_instance))
    return bound


def _check_one_copy_fits(kind: InstanceType, request: CopyRequest, max_instances: int) -> None:
    """Fail early, with a clear reason, when a copy is bigger than a whole instance."""
    if not request.count:
        return
    if Workspace([InstanceSlot("-", kind)]).nodes[0].fit(request.requirements) is not None:
        return
    raise DoesNotFit(
        f"Could not place {request.count} of {request.count} copies of inference component"
        f' "{request.component}": each copy needs {needs_phrase(request.requirements)},'
        f" which even an empty {kind.name} ({kind.vcpus} vCPUs,"
        f" {kind.accelerator_count} accelerator devices, {kind.memory_mib} MB) cannot hold,"
        f" so no number of instances up to the maximum of {max_instances} can",
        component=request.component,
        requested=request.count,
        placed=0,
    )


def plan_scale_out(
    instances: Sequence[InstanceSlot],
    instance_type: InstanceType,
    requests: Sequence[CopyRequest],
    *,
    min_instances: int,
    max_instances: int,
    new_instance_id: Callable[[int], str] | None = None,
) -> ScaleOut:
    """The fewest new instances (up to ``max_instances`` in all) that fit ``requests``.

    Also tops the variant up to ``min_instances``. The placement is computed
    with requests ordered biggest copy first. Raises :class:`DoesNotFit` when
    the copies do not fit even at ``max_instances``. ``new_instance_id(n)``
    names the n-th instance of the variant (default ``instance-<n>``).
    """
    if min_instances < 0 or max_instances < min_instances:
        raise ValueError("need 0 <= min_instances <= max_instances")
    for request in requests:
        _check_one_copy_fits(instance_type, request, max_instances)
    ordered = _largest_first(requests, instance_type)
    headroom = max(0, max_instances - len(instances))
    floor = min(max(0, min_instances - len(instances)), headroom)

    def attempt(add: int) -> ScaleOut:
        new = _new_slots(instances, instance_type, add, new_instance_id or _default_id)
        workspace = Workspace((*instances, *new))
        assignments = [a for request in ordered for a in place_request(workspace, request)]
        placement = Placement(tuple(assignments), workspace.result())
        return ScaleOut(tuple(slot.instance_id for slot in new), placement)

    def fits(add: int) -> ScaleOut | None:
        try:
            return attempt(add)
        except DoesNotFit:
            return None

    low = min(max(floor, _lower_bound(instances, instance_type, requests)), headroom)
    best = fits(low)
    if best is not None:
        return best
    best = _at_maximum(attempt, headroom, max_instances)
    # Fitting is monotone in the number of instances in practice (more room
    # never hurts a greedy placement), so bisect between a failure (low) and a
    # success (high); every returned plan is one that was actually computed.
    high = headroom
    while high - low > 1:
        middle = (low + high) // 2
        found = fits(middle)
        if found is None:
            low = middle
        else:
            best, high = found, middle
    return best


def _at_maximum(attempt: Callable[[int], ScaleOut], add: int, max_instances: int) -> ScaleOut:
    try:
        return attempt(add)
    except DoesNotFit as error:
        raise DoesNotFit(
            f"{error.message} (with the variant at its maximum of {max_instances} instances)",
            component=error.component,
            requested=error.requested,
            placed=error.placed,
        ) from None


def _idle_release(workspace: Workspace, min_instances: int) -> list[str]:
    """Mark idle instances, last listed first, as released while above the minimum."""
    remaining = len(workspace.nodes)
    released: list[str] = []
    for node in reversed(workspace.nodes):
        if remaining <= min_instances:
            break
        if not node.copy_count:
            node.releasing = True
            released.append(node.instance_id)
            remaining -= 1
    return released


def plan_scale_in(
    instances: Sequence[InstanceSlot],
    *,
    min_instances: int,
    strategy: ScaleInStrategy = ScaleInStrategy.IDLE_RELEASE,
    max_step_size: int = DEFAULT_MAX_STEP_SIZE,
    strategies: Mapping[str, Strategy] | None = None,
) -> ScaleIn:
    """Instances that can be released without going below ``min_instances``.

    ``IDLE_RELEASE`` releases idle instances (those without copies), the last
    listed first. ``CONSOLIDATION`` does that, then tries to empty up to
    ``max_step_size`` more instances, fewest copies and least loaded first, by
    moving their copies to the remaining instances with each component's
    placement strategy (``strategies``, default SPREAD); an instance whose
    copies do not all fit elsewhere is kept. Moved copies keep their ids.
    """
    if max_step_size < 1:
        raise ValueError("max_step_size must be >= 1")
    workspace = Workspace(instances)
    released = _idle_release(workspace, min_instances)
    remaining = workspace.result()
    moves: list[Move] = []
    if strategy is ScaleInStrategy.CONSOLIDATION:
        emptied = 0
        for candidate in _consolidation_order(remaining):
            if emptied >= max_step_size or len(remaining) <= min_instances:
                break
            step = _empty(remaining, candidate, strategies or {})
            if step is None:
                continue
            step_moves, remaining = step
            moves.extend(step_moves)
            released.append(candidate)
            emptied += 1
    return ScaleIn(tuple(released), tuple(moves), remaining)


def _consolidation_order(instances: Sequence[InstanceSlot]) -> list[str]:
    """Instances worth emptying first: fewest copies, least loaded, last listed."""
    nodes = Workspace(instances).nodes
    ordered = sorted(nodes, key=lambda n: (n.copy_count, n.load, -n.index))
    return [n.instance_id for n in ordered]


def _empty(
    instances: tuple[InstanceSlot, ...], instance_id: str, strategies: Mapping[str, Strategy]
) -> tuple[list[Move], tuple[InstanceSlot, ...]] | None:
    """Move every copy off ``instance_id``; ``None`` when they do not all fit elsewhere."""
    workspace = Workspace(instances)
    source = next(n for n in workspace.nodes if n.instance_id == instance_id)
    copies = list(source.copies())
    for copy in copies:
        workspace.remove(source, copy.copy_id)
    source.releasing = True
    moves: list[Move] = []
    try:
        for copy in copies:
            strategy = strategies.get(copy.component, DEFAULT_STRATEGY)
            request = CopyRequest(copy.component, copy.requirements, 1, strategy, (copy.copy_id,))
            for assignment in place_request(workspace, request):
                moves.append(
                    Move(
                        copy.copy_id,
                        copy.component,
                        instance_id,
                        assignment.instance_id,
                        assignment.copy.accelerator_indices,
                    )
                )
    except DoesNotFit:
        return None
    return moves, workspace.result()
