"""The scheduler's vocabulary: requirements, placed copies, instances, results.

These are the typed inputs and outputs of :mod:`moorage.placement.scheduler`
and :mod:`moorage.placement.scaling`. Everything is immutable: a scheduling
function receives instances and returns new ones, so the reconciler
(``deploy/``) can compute a plan, persist it, and only then act on it through
``fleet/``.

Units: CPUs are counted in thousandths of a vCPU (``millicpus``) so that
fractional requirements such as 0.25 add up exactly; memory in MB, which the
scheduler compares one-to-one with the catalog's MiB.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from moorage.placement.catalog import InstanceType


class Strategy(StrEnum):
    """``InferenceComponentSchedulingConfig.PlacementStrategy``."""

    # Distribute copies evenly across instances, for resilience.
    SPREAD = "SPREAD"
    # Pack copies onto as few instances as possible, to keep others free.
    BINPACK = "BINPACK"


# AWS documents both strategies but no default for an inference component that
# has no SchedulingConfig; spreading is what keeps a component available when
# one instance goes away, so it is moorage's default.
DEFAULT_STRATEGY = Strategy.SPREAD


def to_millicpus(cpus: float) -> int:
    """``cpus`` in thousandths, rounded up so a copy never gets less than it asked."""
    if not math.isfinite(cpus) or cpus < 0:
        raise ValueError(f"CPU requirement must be a finite number >= 0, not {cpus!r}")
    # The tolerance absorbs binary float noise (0.1 * 1000 == 100.00000000000001)
    # before rounding up.
    return math.ceil(cpus * 1000 - 1e-6)


@dataclass(frozen=True)
class Requirements:
    """What one copy reserves on an instance (``ComputeResourceRequirements``).

    ``min_memory_mb`` is reserved; ``max_memory_mb`` is a ceiling that is not
    reserved but must not exceed the instance's memory. ``accelerators`` is a
    count of whole devices.
    """

    cpus: float = 0.0
    accelerators: int = 0
    min_memory_mb: int = 0
    max_memory_mb: int | None = None
    millicpus: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "millicpus", to_millicpus(self.cpus))
        if self.accelerators < 0:
            raise ValueError("accelerator requirement must be >= 0")
        if self.min_memory_mb < 0:
            raise ValueError("minimum memory must be >= 0")
        if self.max_memory_mb is not None and self.max_memory_mb < self.min_memory_mb:
            raise ValueError("maximum memory must not be below the minimum")

    @classmethod
    def from_api(cls, spec: Mapping[str, Any]) -> Requirements:
        """From a validated ``ComputeResourceRequirements`` structure.

        Absent CPU and accelerator requirements mean none. A fractional
        accelerator requirement is rounded up: a copy gets whole devices.
        """
        accelerators = float(spec.get("NumberOfAcceleratorDevicesRequired") or 0)
        maximum = spec.get("MaxMemoryRequiredInMb")
        return cls(
            cpus=float(spec.get("NumberOfCpuCoresRequired") or 0),
            accelerators=math.ceil(accelerators - 1e-9),
            min_memory_mb=int(spec.get("MinMemoryRequiredInMb") or 0),
            max_memory_mb=None if maximum is None else int(maximum),
        )


@dataclass(frozen=True)
class PlacedCopy:
    """One copy of an inference component, on one instance."""

    copy_id: str
    component: str
    requirements: Requirements
    # Device indices (0..n-1 on the instance) reserved for this copy alone.
    accelerator_indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class SlotUsage:
    """What the copies on one instance reserve, summed once per slot."""

    millicpus: int
    memory_mb: int
    devices: frozenset[int]
    component_counts: Mapping[str, int]
    copy_ids: frozenset[str]
    # The dominant share: the fullest of CPU, memory and devices, 0..1 (more
    # when over-committed). The scheduler orders instances by it.
    load: float

    @staticmethod
    def dominant_share(
        kind: InstanceType, free_millicpus: int, free_memory_mb: int, free_devices: int
    ) -> float:
        load = max(1 - free_millicpus / kind.millicpus, 1 - free_memory_mb / kind.memory_mib)
        if kind.accelerator_count:
            load = max(load, 1 - free_devices / kind.accelerator_count)
        return load

    @classmethod
    def of(cls, instance_id: str, kind: InstanceType, copies: tuple[PlacedCopy, ...]) -> SlotUsage:
        """Sum ``copies``; raises ``ValueError`` when two hold a device or share an id."""
        device_count = kind.accelerator_count
        millicpus = memory = 0
        devices: set[int] = set()
        counts: dict[str, int] = {}
        for copy in copies:
            millicpus += copy.requirements.millicpus
            memory += copy.requirements.min_memory_mb
            counts[copy.component] = counts.get(copy.component, 0) + 1
            for device in copy.accelerator_indices:
                if device in devices or not 0 <= device < device_count:
                    raise ValueError(
                        f"instance {instance_id}: copy {copy.copy_id} holds device {device},"
                        " which is out of range or already held"
                    )
                devices.add(device)
        ids = frozenset(copy.copy_id for copy in copies)
        if len(ids) != len(copies):
            raise ValueError(f"instance {instance_id} lists a copy id twice")
        load = cls.dominant_share(
            kind, kind.millicpus - millicpus, kind.memory_mib - memory, device_count - len(devices)
        )
        return cls(millicpus, memory, frozenset(devices), counts, ids, load)


@dataclass(frozen=True)
class InstanceSlot:
    """An instance of a variant and the copies it holds."""

    instance_id: str
    instance_type: InstanceType
    copies: tuple[PlacedCopy, ...] = ()

    @classmethod
    def with_usage(
        cls,
        instance_id: str,
        instance_type: InstanceType,
        copies: tuple[PlacedCopy, ...],
        usage: SlotUsage,
    ) -> InstanceSlot:
        """A slot whose :attr:`usage` the caller has already summed (the scheduler has)."""
        slot = cls(instance_id, instance_type, copies)
        # Seeds the cached_property below; a frozen dataclass still has a __dict__.
        slot.__dict__["usage"] = usage
        return slot

    @functools.cached_property
    def usage(self) -> SlotUsage:
        """The summed reservations of :attr:`copies`, computed once per slot.

        Scheduling calls read it for every instance, so repeated calls over
        mostly unchanged instances do not re-add every copy.
        """
        return SlotUsage.of(self.instance_id, self.instance_type, self.copies)

    @property
    def used_millicpus(self) -> int:
        return self.usage.millicpus

    @property
    def used_memory_mb(self) -> int:
        return self.usage.memory_mb

    @property
    def used_accelerators(self) -> tuple[int, ...]:
        return tuple(sorted(self.usage.devices))

    @property
    def free_millicpus(self) -> int:
        return self.instance_type.millicpus - self.used_millicpus

    @property
    def free_memory_mb(self) -> int:
        return self.instance_type.memory_mib - self.used_memory_mb

    @property
    def free_accelerators(self) -> tuple[int, ...]:
        used = self.usage.devices
        return tuple(i for i in range(self.instance_type.accelerator_count) if i not in used)

    def copies_of(self, component: str) -> int:
        return self.usage.component_counts.get(component, 0)


@dataclass(frozen=True)
class CopyRequest:
    """``count`` more copies of ``component``, placed with ``strategy``.

    ``copy_ids``, when given, names the new copies (one per copy); otherwise
    the scheduler names them ``<component>-<n>``.
    """

    component: str
    requirements: Requirements
    count: int
    strategy: Strategy = DEFAULT_STRATEGY
    copy_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("copy count must be >= 0")
        if self.copy_ids and len(self.copy_ids) != self.count:
            raise ValueError("give one copy id per copy, or none")


@dataclass(frozen=True)
class Assignment:
    """A copy and the instance it is placed on (or removed from)."""

    instance_id: str
    copy: PlacedCopy


@dataclass(frozen=True)
class Placement:
    """The result of placing copies.

    ``assignments`` lists the new copies in placement order; ``instances`` is
    the full, updated instance list, in the order it was given.
    """

    assignments: tuple[Assignment, ...]
    instances: tuple[InstanceSlot, ...]


@dataclass(frozen=True)
class Removal:
    """The result of removing copies: which ones, and the instances after."""

    removed: tuple[Assignment, ...]
    instances: tuple[InstanceSlot, ...]
