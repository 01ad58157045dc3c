"""Words for capacity: the text of :class:`DoesNotFit` and the units of views.

The scheduler (:mod:`moorage.placement.scheduler`) and the managed-scaling
planner (:mod:`moorage.placement.scaling`) describe why copies did not fit
with these functions, and :mod:`moorage.placement.view` formats numbers with
them, so a CLI table and an error message say the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moorage.placement.model import Requirements

# Past this many instances an explanation lists the first few and sums up the
# rest: an error message is read by a person.
LISTED_INSTANCES = 5


def format_cpus(millicpus: int) -> str:
    """``2000`` -> ``"2"``, ``250`` -> ``"0.25"``, exactly (no float rounding)."""
    sign = "-" if millicpus < 0 else ""
    whole, thousandths = divmod(abs(millicpus), 1000)
    if not thousandths:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{thousandths:03d}".rstrip("0")


def vcpus_phrase(millicpus: int) -> str:
    return f"{format_cpus(millicpus)} vCPU{'' if millicpus == 1000 else 's'}"


def devices_phrase(count: int) -> str:
    return f"{count} accelerator device{'' if count == 1 else 's'}"


def format_indices(indices: Sequence[int]) -> str:
    """``(0, 1, 2, 5)`` -> ``"0-2,5"``; ``()`` -> ``"-"``."""
    if not indices:
        return "-"
    parts: list[str] = []
    start = previous = indices[0]
    for index in [*indices[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(parts)


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def needs_phrase(requirements: Requirements) -> str:
    """``"2 vCPUs, 1 accelerator device and 4096 MB of memory"``."""
    parts = []
    if requirements.millicpus:
        parts.append(vcpus_phrase(requirements.millicpus))
    if requirements.accelerators:
        parts.append(devices_phrase(requirements.accelerators))
    parts.append(f"{requirements.min_memory_mb} MB of memory")
    text = _join(parts)
    if requirements.max_memory_mb is not None:
        text += f" (at most {requirements.max_memory_mb} MB)"
    return text


@dataclass(frozen=True)
class FreeCapacity:
    """What one instance has left, as the scheduler sees it at a failure."""

    instance_id: str
    instance_type: str
    millicpus: int
    memory_mb: int
    devices: tuple[int, ...]
    total_memory_mb: int
    # The longest run of adjacent free devices: Neuron copies need adjacent ones.
    longest_run: int
    adjacent_devices_required: bool


@dataclass(frozen=True)
class Shortfall:
    """Which of a copy's needs an instance cannot meet."""

    cpus: bool
    memory: bool
    devices: bool
    adjacency: bool
    max_memory: bool

    @property
    def any(self) -> bool:
        return self.cpus or self.memory or self.devices or self.adjacency or self.max_memory


def shortfall(free: FreeCapacity, requirements: Requirements) -> Shortfall:
    enough_devices = len(free.devices) >= requirements.accelerators
    return Shortfall(
        cpus=free.millicpus < requirements.millicpus,
        memory=free.memory_mb < requirements.min_memory_mb,
        devices=not enough_devices,
        adjacency=enough_devices
        and free.adjacent_devices_required
        and free.longest_run < requirements.accelerators,
        max_memory=requirements.max_memory_mb is not None
        and requirements.max_memory_mb > free.total_memory_mb,
    )


def free_phrase(free: FreeCapacity, requirements: Requirements) -> str:
    """``"instance i-1 (ml.g5.xlarge) has 0.5 vCPUs, ... and 12000 MB free"``."""
    parts = [vcpus_phrase(free.millicpus)]
    if requirements.accelerators:
        parts.append(devices_phrase(len(free.devices)))
    parts.append(f"{free.memory_mb} MB")
    text = f"instance {free.instance_id} ({free.instance_type}) has {_join(parts)} free"
    short = shortfall(free, requirements)
    if short.adjacency:
        text += (
            f", but no {requirements.accelerators} adjacent devices"
            f" (free: {format_indices(free.devices)})"
        )
    if short.max_memory:
        text += (
            f", and only {free.total_memory_mb} MB of memory in all, below the"
            f" copy's maximum of {requirements.max_memory_mb} MB"
        )
    return text


def _tally(frees: Sequence[FreeCapacity], requirements: Requirements) -> str:
    shorts = [shortfall(f, requirements) for f in frees]
    counts = [
        (sum(s.cpus for s in shorts), "vCPUs"),
        (sum(s.devices or s.adjacency for s in shorts), "accelerator devices"),
        (sum(s.memory for s in shorts), "memory"),
        (sum(s.max_memory for s in shorts), "total memory for the copy's maximum"),
    ]
    parts = [f"{n} lack {what}" for n, what in counts if n]
    return f"of all {len(frees)} instances, {_join(parts)}" if parts else ""


def does_not_fit_message(
    component: str,
    requirements: Requirements,
    requested: int,
    placed: int,
    frees: Sequence[FreeCapacity],
) -> str:
    """The full text of a :class:`DoesNotFit` for one component."""
    head = (
        f"Could not place {requested - placed} of {requested} copies of inference component"
        f' "{component}": each copy needs {needs_phrase(requirements)}'
    )
    if not frees:
        return f"{head}; there are no instances to place them on"
    listed = [free_phrase(f, requirements) for f in frees[:LISTED_INSTANCES]]
    text = f"{head}; " + "; ".join(listed)
    rest = frees[LISTED_INSTANCES:]
    if rest:
        text += (
            f"; and {len(rest)} more instances with at most"
            f" {vcpus_phrase(max(f.millicpus for f in rest))},"
        )
        if requirements.accelerators:
            text += f" {devices_phrase(max(len(f.devices) for f in rest))},"
        text += f" {max(f.memory_mb for f in rest)} MB free"
        tally = _tally(frees, requirements)
        if tally:
            text += f" ({tally})"
    return text
