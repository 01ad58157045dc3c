"""A rolling update's layout, in copies: which are placed and which take traffic (pure).

A step of a component's rolling update (:mod:`moorage.deploy.component_rollout`)
sets a :class:`~moorage.deploy.timeline.Layout` whose *blue* side is the old
specification's copies and whose *green* side is the new one's: how many of
each are placed, and how many of each take traffic.

- :func:`fit` changes a variant's placement to match a layout: extra copies
  are dropped first (their capacity is reused at once), missing ones are then
  placed by the component's strategy, and instances left idle are released
  (managed instance scaling). It raises
  :class:`~moorage.placement.DoesNotFit` when a batch does not fit.
- :func:`routed` picks the copies that take traffic.

Which copies go is fixed, so that the copies a step takes out of traffic are
the ones the next step stops: old copies leave in the order they had when the
update began (copies restored by a rollback come first, as they take traffic
last), new copies leave newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from moorage.deploy.component_plan import ScalingLimits, add_copies, drop_copies, release_idle
from moorage.deploy.timeline import Layout
from moorage.domain.component_placement import VariantCapacity
from moorage.placement import Requirements, Strategy

T = TypeVar("T")


@dataclass(frozen=True)
class Generation:
    """One side of the update: a specification's generation and what its copies need."""

    number: int
    requirements: Requirements
    strategy: Strategy


@dataclass(frozen=True)
class Sides:
    """The old and new generations of one component, and the old copies at the start."""

    component: str
    old: Generation
    new: Generation
    original: tuple[str, ...]


def copy_number(copy_id: str) -> tuple[int, str]:
    """Sort key: ``llm-10`` after ``llm-9``."""
    match = re.search(r"(\d+)$", copy_id)
    return (int(match.group(1)) if match else 0, copy_id)


def old_order(copy_ids: Iterable[str], original: Sequence[str]) -> list[str]:
    """Old copies in the order they leave traffic and stop."""
    position = {copy_id: index for index, copy_id in enumerate(original)}
    restored = sorted((c for c in copy_ids if c not in position), key=copy_number)
    kept = sorted((c for c in copy_ids if c in position), key=position.__getitem__)
    return restored + kept


def new_order(copy_ids: Iterable[str]) -> list[str]:
    """New copies in the order they take traffic (they stop in the reverse order)."""
    return sorted(copy_ids, key=copy_number)


def fit(
    capacity: VariantCapacity,
    sides: Sides,
    layout: Layout,
    *,
    rolling_back: bool,
    limits: ScalingLimits | None,
) -> VariantCapacity:
    """``capacity`` with ``blue_target`` old and ``green_target`` new copies placed.

    Going forward only new copies are added, rolling back only old ones: a
    rollback that begins at a batch that did not fit does not try it again.
    Rolling back, new copies out of traffic are stopped at once, to make
    room for the old ones coming back.
    """
    placed = capacity.copies_of(sides.component)
    olds = [p.copy.copy_id for p in placed if p.generation == sides.old.number]
    news = [p.copy.copy_id for p in placed if p.generation == sides.new.number]
    drop = old_order(olds, sides.original)[: max(0, len(olds) - layout.blue_target)]
    keep_new = (
        min(layout.green_target, layout.green_active) if rolling_back else layout.green_target
    )
    drop += new_order(news)[keep_new:]
    # Dropped without releasing instances: the copies added next may use them.
    capacity = drop_copies(capacity, drop, limits=None)
    grow = sides.old if rolling_back else sides.new
    for generation, wanted, have in (
        (sides.new, layout.green_target, len(news)),
        (sides.old, layout.blue_target, len(olds)),
    ):
        if generation is not grow:
            continue
        capacity = add_copies(
            capacity,
            sides.component,
            generation.requirements,
            wanted - have,
            generation.strategy,
            generation=generation.number,
            limits=limits,
        )
    return release_idle(capacity, limits)


def routed(
    olds: Sequence[T],
    news: Sequence[T],
    layout: Layout,
    copy_id: Callable[[T], str],
    original: Sequence[str],
) -> list[T]:
    """The items (copies or slots) that take traffic under ``layout``.

    ``olds`` and ``news`` are the ready items of each generation: the last
    ``blue_active`` old ones and the first ``green_active`` new ones.
    """
    old = {copy_id(item): item for item in olds}
    order = old_order(old, original)
    keep = order[len(order) - layout.blue_active :] if layout.blue_active else []
    new = {copy_id(item): item for item in news}
    take = new_order(new)[: layout.green_active]
    return [old[c] for c in keep] + [new[c] for c in take]
