"""The scheduler's scratch space: mutable free capacity, built from immutable input.

A :class:`Workspace` is made from a sequence of :class:`InstanceSlot` once per
scheduling call, is changed in place while copies are added and removed, and
is turned back into new slots at the end (:meth:`Workspace.result`). The slots
it was built from are never touched, which is what makes
:mod:`moorage.placement.scheduler` and :mod:`moorage.placement.scaling` pure:
a failed placement simply drops its workspace.

A workspace reads each slot's cached :class:`SlotUsage` and only makes a
mutable :class:`Node` for an instance a copy is placed on or taken from, so a
call costs O(instances) cheap reads, not O(copies); the slots it returns carry
their usage already summed for the next call. CPU is counted in integer millicpus and memory in
integer MB, so adding and removing never drifts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from moorage.placement.catalog import AcceleratorKind
from moorage.placement.explain import FreeCapacity
from moorage.placement.model import InstanceSlot, PlacedCopy, Requirements, SlotUsage


def _runs(free: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs of adjacent indices in a sorted list, as (start, length)."""
    runs: list[tuple[int, int]] = []
    for index in free:
        if runs and runs[-1][0] + runs[-1][1] == index:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


def choose_devices(free: Sequence[int], count: int, adjacent: bool) -> tuple[int, ...] | None:
    """``count`` device indices out of the sorted ``free`` ones, or ``None``.

    Adjacent devices are preferred, from the shortest free run that holds
    them (best fit keeps long runs whole for copies that need many devices).
    Neuron copies *must* get adjacent devices, because
    ``NEURON_RT_VISIBLE_CORES`` takes a single range; other kinds fall back to
    the lowest free indices.
    """
    if count == 0:
        return ()
    if len(free) < count:
        return None
    fitting = [run for run in _runs(free) if run[1] >= count]
    if fitting:
        start = min(fitting, key=lambda run: (run[1], run[0]))[0]
        return tuple(range(start, start + count))
    if adjacent:
        return None
    return tuple(free[:count])


class Node:
    """One instance's capacity while a scheduling call runs."""

    __slots__ = (
        "added",
        "adjacent",
        "component_counts",
        "copy_count",
        "free_devices",
        "free_memory",
        "free_millicpus",
        "index",
        "instance_id",
        "load",
        "releasing",
        "removed",
        "slot",
    )

    def __init__(self, index: int, slot: InstanceSlot):
        usage = slot.usage
        kind = slot.instance_type
        self.index = index
        self.slot = slot
        self.instance_id = slot.instance_id
        self.adjacent = kind.accelerator_kind is AcceleratorKind.NEURON
        self.free_millicpus = kind.millicpus - usage.millicpus
        self.free_memory = kind.memory_mib - usage.memory_mb
        self.free_devices = [d for d in range(kind.accelerator_count) if d not in usage.devices]
        self.component_counts = dict(usage.component_counts)
        self.copy_count = len(slot.copies)
        self.added: list[PlacedCopy] = []
        self.removed: set[str] = set()
        # An instance a scale-in plan is about to release: no placement may
        # target it, and it is left out of the result.
        self.releasing = False
        self.load = usage.load

    def _update_load(self) -> None:
        self.load = SlotUsage.dominant_share(
            self.slot.instance_type, self.free_millicpus, self.free_memory, len(self.free_devices)
        )

    def fit(self, requirements: Requirements) -> tuple[int, ...] | None:
        """The devices a new copy would get here, or ``None`` when it does not fit."""
        maximum = requirements.max_memory_mb
        if maximum is not None and maximum > self.slot.instance_type.memory_mib:
            return None
        if (
            self.free_millicpus < requirements.millicpus
            or self.free_memory < requirements.min_memory_mb
        ):
            return None
        return choose_devices(self.free_devices, requirements.accelerators, self.adjacent)

    def add(self, copy: PlacedCopy) -> None:
        self.added.append(copy)
        self.copy_count += 1
        self.free_millicpus -= copy.requirements.millicpus
        self.free_memory -= copy.requirements.min_memory_mb
        counts = self.component_counts
        counts[copy.component] = counts.get(copy.component, 0) + 1
        if copy.accelerator_indices:
            taken = set(copy.accelerator_indices)
            self.free_devices = [d for d in self.free_devices if d not in taken]
        self._update_load()

    def remove(self, copy_id: str) -> PlacedCopy:
        for position, copy in enumerate(self.added):
            if copy.copy_id == copy_id:
                del self.added[position]
                break
        else:
            copy = next(c for c in self.slot.copies if c.copy_id == copy_id)
            if copy_id in self.removed:
                raise KeyError(copy_id)
            self.removed.add(copy_id)
        self.copy_count -= 1
        self.free_millicpus += copy.requirements.millicpus
        self.free_memory += copy.requirements.min_memory_mb
        counts = self.component_counts
        counts[copy.component] -= 1
        if not counts[copy.component]:
            del counts[copy.component]
        if copy.accelerator_indices:
            self.free_devices = sorted([*self.free_devices, *copy.accelerator_indices])
        self._update_load()
        return copy

    def copies(self) -> Iterator[PlacedCopy]:
        """The copies on the instance now, oldest first."""
        for copy in self.slot.copies:
            if copy.copy_id not in self.removed:
                yield copy
        yield from self.added

    def last_copy_of(self, component: str) -> PlacedCopy:
        """The most recently placed copy of ``component`` here."""
        for copy in reversed(self.added):
            if copy.component == component:
                return copy
        for copy in reversed(self.slot.copies):
            if copy.component == component and copy.copy_id not in self.removed:
                return copy
        raise KeyError(component)

    def free(self) -> FreeCapacity:
        kind = self.slot.instance_type
        runs = _runs(self.free_devices)
        return FreeCapacity(
            instance_id=self.instance_id,
            instance_type=kind.name,
            millicpus=self.free_millicpus,
            memory_mb=self.free_memory,
            devices=tuple(self.free_devices),
            total_memory_mb=kind.memory_mib,
            longest_run=max((length for _, length in runs), default=0),
            adjacent_devices_required=self.adjacent,
        )

    def slot_after(self) -> InstanceSlot:
        """This instance as a new slot, or the original one when unchanged."""
        if not self.added and not self.removed:
            return self.slot
        kind = self.slot.instance_type
        before = self.slot.usage
        added_ids = [copy.copy_id for copy in self.added]
        if self.removed:
            copies = tuple(self.copies())
            ids = before.copy_ids.difference(self.removed).union(added_ids)
        else:
            copies = self.slot.copies + tuple(self.added)
            ids = before.copy_ids.union(added_ids)
        usage = SlotUsage(
            millicpus=kind.millicpus - self.free_millicpus,
            memory_mb=kind.memory_mib - self.free_memory,
            devices=frozenset(range(kind.accelerator_count)).difference(self.free_devices),
            component_counts=dict(self.component_counts),
            copy_ids=ids,
            load=self.load,
        )
        return InstanceSlot.with_usage(self.instance_id, kind, copies, usage)


class Workspace:
    """Mutable capacity of a list of instances, plus copy-id bookkeeping."""

    def __init__(self, instances: Iterable[InstanceSlot]):
        self.slots = list(instances)
        if len({slot.instance_id for slot in self.slots}) != len(self.slots):
            raise ValueError("an instance is listed twice")
        # Made on first touch: most instances of a big variant are only read.
        self._nodes: list[Node | None] = [None] * len(self.slots)
        self._copy_ids: set[str] | None = None
        self._totals: dict[str, int] = {}
        self._next_number: dict[str, int] = {}

    def node(self, index: int) -> Node:
        node = self._nodes[index]
        if node is None:
            node = self._nodes[index] = Node(index, self.slots[index])
        return node

    @property
    def nodes(self) -> list[Node]:
        """Every instance, as nodes (makes them all)."""
        return [self.node(i) for i in range(len(self.slots))]

    def targets(self) -> list[Node]:
        """The instances new copies may go to, as nodes (makes them all)."""
        return [node for node in self.nodes if not node.releasing]

    def standings(self, component: str) -> list[tuple[int, float, int]]:
        """(copies of ``component``, load, index) of every target instance.

        Reads untouched instances from their cached usage, without making nodes.
        """
        rows: list[tuple[int, float, int]] = []
        for index, node in enumerate(self._nodes):
            if node is None:
                usage = self.slots[index].usage
                rows.append((usage.component_counts.get(component, 0), usage.load, index))
            elif not node.releasing:
                rows.append((node.component_counts.get(component, 0), node.load, index))
        return rows

    @property
    def copy_ids(self) -> set[str]:
        """Every copy id in use, gathered on first need (copy ids are global)."""
        if self._copy_ids is None:
            ids: set[str] = set().union(*(slot.usage.copy_ids for slot in self.slots))
            if len(ids) != sum(len(slot.copies) for slot in self.slots):
                raise ValueError("a copy id appears on two instances")
            for node in self._nodes:
                if node is not None:
                    ids.difference_update(node.removed)
                    ids.update(copy.copy_id for copy in node.added)
            self._copy_ids = ids
        return self._copy_ids

    def total(self, component: str) -> int:
        """Copies of ``component`` on all instances (counted once, then kept up to date)."""
        total = self._totals.get(component)
        if total is None:
            total = 0
            for slot, node in zip(self.slots, self._nodes, strict=True):
                counts = slot.usage.component_counts if node is None else node.component_counts
                total += counts.get(component, 0)
            self._totals[component] = total
        return total

    def new_copy_id(self, component: str) -> str:
        """``<component>-<n>``, the lowest unused ``n`` past the ones handed out."""
        number = self._next_number.get(component)
        if number is None:
            number = self.total(component) + 1
        ids = self.copy_ids
        while f"{component}-{number}" in ids:
            number += 1
        self._next_number[component] = number + 1
        return f"{component}-{number}"

    def add(self, node: Node, copy: PlacedCopy) -> None:
        ids = self.copy_ids
        if copy.copy_id in ids:
            raise ValueError(f"copy id {copy.copy_id} is already in use")
        node.add(copy)
        ids.add(copy.copy_id)
        if copy.component in self._totals:
            self._totals[copy.component] += 1

    def remove(self, node: Node, copy_id: str) -> PlacedCopy:
        copy = node.remove(copy_id)
        if self._copy_ids is not None:
            self._copy_ids.discard(copy_id)
        if copy.component in self._totals:
            self._totals[copy.component] -= 1
        return copy

    def result(self) -> tuple[InstanceSlot, ...]:
        """The instances after every change, in input order, without released ones."""
        return tuple(
            slot if node is None else node.slot_after()
            for slot, node in zip(self.slots, self._nodes, strict=True)
            if node is None or not node.releasing
        )
