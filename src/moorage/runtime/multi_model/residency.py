"""Which models each copy of a multi-model endpoint holds, and which copy serves a request (pure).

Per copy (the process of a multi-model container), :class:`Residency` keeps
the models loaded into it in least-recently-used order, what each one holds
in memory (its *footprint*) and how many requests are using it right now;
the copy's *budget* is the memory its models may hold together: the
instance type's memory, what an inference component reserved, or less where
``MOORAGE_MULTI_MODEL_MEMORY_MB`` says so (docs/multi-model.md, "Memory").

Two decisions are made here, as SageMaker describes them:

- :func:`choose`: a request goes to a copy that already holds (or is
  loading) its model when one can take it, else to the least loaded copy; a
  model so busy that every copy holding it has :data:`HOT_INFLIGHT` requests
  or more in flight is loaded on another, idler copy too;
- :meth:`Residency.victims`: to make room for a model, the least recently
  used models not in use right now are unloaded, oldest first, until the new
  footprint fits.

Nothing here does I/O or reads a clock: :mod:`moorage.runtime.multi_model.manager`
passes times in and acts on the answers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

# Requests in flight on every copy holding a model beyond which the model is
# loaded on another copy too: the built-in model server's default number of
# handler workers, so a fourth concurrent request would start to queue.
HOT_INFLIGHT = 4

T = TypeVar("T")


@dataclass
class Resident:
    """One model loaded into one copy."""

    target: str  # the TargetModel it was loaded for
    name: str  # its name in the container (/models/{name})
    footprint: int  # bytes it holds
    loaded_at: float
    last_used: float
    invocations: int = 0
    # Requests using it now (a model in use is never unloaded).
    in_use: int = 0


@dataclass
class Residency:
    """The models one copy holds, least recently used first."""

    budget: int
    models: OrderedDict[str, Resident] = field(default_factory=OrderedDict)

    @property
    def used(self) -> int:
        return sum(r.footprint for r in self.models.values())

    def __contains__(self, target: object) -> bool:
        return target in self.models

    def __len__(self) -> int:
        return len(self.models)

    def __iter__(self) -> Iterator[Resident]:
        return iter(self.models.values())

    def get(self, target: str) -> Resident | None:
        return self.models.get(target)

    def touch(self, target: str, now: float) -> Resident | None:
        """Mark ``target`` used now (most recently used); None if not loaded."""
        resident = self.models.get(target)
        if resident is not None:
            resident.last_used = now
            self.models.move_to_end(target)
        return resident

    def add(self, resident: Resident) -> None:
        self.models[resident.target] = resident
        self.models.move_to_end(resident.target)

    def remove(self, target: str) -> Resident | None:
        return self.models.pop(target, None)

    def victims(self, needed: int, keep: str | None = None) -> list[Resident] | None:
        """The models to unload, oldest first, so that ``needed`` more bytes fit.

        Models in use and ``keep`` stay. None when even unloading every other
        idle model would not make room (the caller waits or gives up).
        """
        free = self.budget - self.used
        chosen: list[Resident] = []
        for resident in self.models.values():
            if free >= needed:
                break
            if resident.in_use > 0 or resident.target == keep:
                continue
            chosen.append(resident)
            free += resident.footprint
        return chosen if free >= needed else None


def choose(
    candidates: Sequence[T],
    target: str,
    residency: Callable[[T], Residency],
    holds: Callable[[T], bool],
    inflight: Callable[[T], int],
) -> T | None:
    """The copy to serve ``target`` on (None when there is none).

    ``holds(c)`` says whether ``c`` holds or is loading the model,
    ``inflight(c)`` how many requests it has in flight.
    """
    if not candidates:
        return None
    holders = [c for c in candidates if holds(c)]
    if holders:
        best = min(holders, key=inflight)
        if inflight(best) < HOT_INFLIGHT or len(holders) == len(candidates):
            return best
        others = [c for c in candidates if not holds(c)]
        spare = _least_loaded(others, residency, inflight)
        return spare if inflight(spare) < inflight(best) else best
    return _least_loaded(candidates, residency, inflight)


def _least_loaded(
    candidates: Sequence[T], residency: Callable[[T], Residency], inflight: Callable[[T], int]
) -> T:
    """Fewest requests in flight; among those, the most memory free."""
    return min(candidates, key=lambda c: (inflight(c), residency(c).used - residency(c).budget))
