"""The copy scheduler: which instance each new copy goes to, which copy goes away.

Pure functions over immutable instances (:mod:`moorage.placement.model`): no
I/O, no clock, inputs never modified, same input -> same output. The reconciler
(``deploy/``) calls :func:`place` when an inference component needs more copies
and :func:`remove` when it needs fewer, persists the plan, then asks ``fleet/``
to start or stop processes. :mod:`moorage.placement.scaling` builds on the same
primitives to size a variant under managed instance scaling.

How a copy is placed (see ``docs/placement.md``): an instance fits when its
free vCPUs and free memory cover the copy's reservation, it has enough free
accelerator devices (adjacent ones on Neuron instances), and the copy's
maximum memory, if any, does not exceed the instance's memory. Among the
instances that fit:

- ``SPREAD`` takes the instance with the fewest copies of this component, then
  the least loaded one;
- ``BINPACK`` takes the most loaded instance, then the one with the most
  copies of this component;

where *load* is the dominant share (the fullest of CPU, memory and devices)
and remaining ties go to the instance listed first.

Capacity only shrinks while one request is placed, so an instance that
cannot take one copy will not take a later one and is dropped for good.
``SPREAD`` keeps its candidates in a heap; ``BINPACK`` needs one sorted pass.
Placing ``c`` copies over ``n`` instances costs O((n + c) log n), not
O(n * c).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

from moorage.placement.capacity import Node, Workspace
from moorage.placement.errors import DoesNotFit, NotEnoughCopies
from moorage.placement.explain import does_not_fit_message
from moorage.placement.model import (
    DEFAULT_STRATEGY,
    Assignment,
    CopyRequest,
    InstanceSlot,
    PlacedCopy,
    Placement,
    Removal,
    Requirements,
    Strategy,
)


def _spread(workspace: Workspace, request: CopyRequest) -> list[Assignment]:
    component, requirements = request.component, request.requirements
    # Entries end with the instance's index, so ties resolve in input order.
    heap = workspace.standings(component)
    heapq.heapify(heap)
    placed: list[Assignment] = []
    while len(placed) < request.count and heap:
        count, _, index = heapq.heappop(heap)
        node = workspace.node(index)
        devices = node.fit(requirements)
        if devices is None:
            continue  # capacity only shrinks during a request: it will not fit later
        placed.append(_add(workspace, node, request, len(placed), devices))
        heapq.heappush(heap, (count + 1, node.load, index))
    return placed


def _binpack(workspace: Workspace, request: CopyRequest) -> list[Assignment]:
    component, requirements = request.component, request.requirements
    # A copy only makes its instance fuller, so the instance that took it stays
    # the first choice until it is full: one sorted pass does what a heap would.
    order = sorted(workspace.standings(component), key=lambda row: (-row[1], -row[0], row[2]))
    placed: list[Assignment] = []
    for _, _, index in order:
        node = workspace.node(index)
        while len(placed) < request.count:
            devices = node.fit(requirements)
            if devices is None:
                break
            placed.append(_add(workspace, node, request, len(placed), devices))
        if len(placed) == request.count:
            break
    return placed


def _add(
    workspace: Workspace, node: Node, request: CopyRequest, number: int, devices: tuple[int, ...]
) -> Assignment:
    component = request.component
    copy_id = request.copy_ids[number] if request.copy_ids else workspace.new_copy_id(component)
    copy = PlacedCopy(copy_id, component, request.requirements, devices)
    workspace.add(node, copy)
    return Assignment(node.instance_id, copy)


def place_request(workspace: Workspace, request: CopyRequest) -> list[Assignment]:
    """Place one request's copies into ``workspace``, or raise :class:`DoesNotFit`.

    On failure the workspace is left partly changed; callers discard it.
    """
    if not request.count:
        return []
    strategy = _spread if request.strategy is Strategy.SPREAD else _binpack
    placed = strategy(workspace, request)
    if len(placed) < request.count:
        raise DoesNotFit(
            does_not_fit_message(
                request.component,
                request.requirements,
                request.count,
                len(placed),
                [node.free() for node in workspace.targets()],
            ),
            component=request.component,
            requested=request.count,
            placed=len(placed),
        )
    return placed


def place_all(instances: Sequence[InstanceSlot], requests: Sequence[CopyRequest]) -> Placement:
    """Place several requests, in the order given, all or nothing.

    Raises :class:`DoesNotFit` for the first request that does not fit; the
    input instances are never modified.
    """
    workspace = Workspace(instances)
    assignments: list[Assignment] = []
    for request in requests:
        assignments.extend(place_request(workspace, request))
    return Placement(tuple(assignments), workspace.result())


def place(
    instances: Sequence[InstanceSlot],
    component: str,
    requirements: Requirements,
    count: int,
    strategy: Strategy = DEFAULT_STRATEGY,
    *,
    copy_ids: Sequence[str] = (),
) -> Placement:
    """Add ``count`` copies of ``component`` to ``instances``.

    Returns where each new copy goes (with its device indices) and the updated
    instances, or raises :class:`DoesNotFit` naming what did not fit where.
    New copies are named ``<component>-<n>`` unless ``copy_ids`` names them.
    """
    request = CopyRequest(component, requirements, count, strategy, tuple(copy_ids))
    return place_all(instances, [request])


def _remove_key(strategy: Strategy) -> Callable[[Node, str], tuple[float, float, int]]:
    if strategy is Strategy.SPREAD:
        # Take from the instance with the most copies of the component, so the
        # rest stay evenly spread; then from the most loaded one.
        return lambda node, component: (
            -node.component_counts.get(component, 0),
            -node.load,
            -node.index,
        )
    # Take from the instance with the fewest copies of the component, then the
    # least loaded one, so that instances empty out and can be released.
    return lambda node, component: (
        node.component_counts.get(component, 0),
        node.load,
        -node.index,
    )


def remove(
    instances: Sequence[InstanceSlot],
    component: str,
    count: int,
    strategy: Strategy = DEFAULT_STRATEGY,
) -> Removal:
    """Remove ``count`` copies of ``component``; the mirror image of :func:`place`.

    ``SPREAD`` removes from the instances holding the most copies of the
    component (keeping it spread), ``BINPACK`` from those holding the fewest
    (emptying instances); on an instance the newest copy goes first, and ties
    go to the instance listed last. Raises :class:`NotEnoughCopies` when fewer
    than ``count`` copies exist.
    """
    if count < 0:
        raise ValueError("copy count must be >= 0")
    workspace = Workspace(instances)
    existing = workspace.total(component)
    if count > existing:
        raise NotEnoughCopies(component, count, existing)
    key = _remove_key(strategy)
    # Keys end with the (unique) index, so nodes themselves are never compared.
    heap = [
        (key(node, component), node)
        for node in workspace.nodes
        if node.component_counts.get(component)
    ]
    heapq.heapify(heap)
    removed: list[Assignment] = []
    while len(removed) < count:
        _, node = heapq.heappop(heap)
        copy = workspace.remove(node, node.last_copy_of(component).copy_id)
        removed.append(Assignment(node.instance_id, copy))
        if node.component_counts.get(component):
            heapq.heappush(heap, (key(node, component), node))
    return Removal(tuple(removed), workspace.result())
