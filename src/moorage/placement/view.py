"""Views of a placement: a JSON-able document and a text table.

The CLI and the server's status pages show where copies run and how much of
each instance is used with these functions; they are explicit (no dumping of
dataclass fields), so renaming a field never changes the output by accident.
Keys are snake_case: these are moorage's own views, not AWS API shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moorage.placement.explain import format_cpus, format_indices
from moorage.placement.model import InstanceSlot, PlacedCopy


def _cpus(millicpus: int) -> int | float:
    return millicpus // 1000 if millicpus % 1000 == 0 else millicpus / 1000


def copy_json(copy: PlacedCopy) -> dict[str, Any]:
    need = copy.requirements
    return {
        "copy_id": copy.copy_id,
        "component": copy.component,
        "vcpus": _cpus(need.millicpus),
        "accelerator_indices": list(copy.accelerator_indices),
        "min_memory_mb": need.min_memory_mb,
        "max_memory_mb": need.max_memory_mb,
    }


def instance_json(slot: InstanceSlot) -> dict[str, Any]:
    kind = slot.instance_type
    used_cpu = slot.used_millicpus
    used_memory = slot.used_memory_mb
    return {
        "instance_id": slot.instance_id,
        "instance_type": kind.name,
        "vcpus": {
            "total": kind.vcpus,
            "used": _cpus(used_cpu),
            "free": _cpus(kind.millicpus - used_cpu),
        },
        "memory_mb": {
            "total": kind.memory_mib,
            "used": used_memory,
            "free": kind.memory_mib - used_memory,
        },
        "accelerators": {
            "kind": kind.accelerator_kind.value,
            "name": kind.accelerator_name,
            "total": kind.accelerator_count,
            "used": list(slot.used_accelerators),
            "free": list(slot.free_accelerators),
        },
        "copies": [copy_json(copy) for copy in slot.copies],
    }


def placement_json(instances: Sequence[InstanceSlot]) -> dict[str, Any]:
    """Every instance with its copies and capacity, plus totals."""
    total_cpu = sum(s.instance_type.millicpus for s in instances)
    used_cpu = sum(s.used_millicpus for s in instances)
    total_memory = sum(s.instance_type.memory_mib for s in instances)
    used_memory = sum(s.used_memory_mb for s in instances)
    total_devices = sum(s.instance_type.accelerator_count for s in instances)
    used_devices = sum(len(s.used_accelerators) for s in instances)
    return {
        "instances": [instance_json(slot) for slot in instances],
        "totals": {
            "instances": len(instances),
            "copies": sum(len(s.copies) for s in instances),
            "vcpus": {
                "total": _cpus(total_cpu),
                "used": _cpus(used_cpu),
                "free": _cpus(total_cpu - used_cpu),
            },
            "memory_mb": {
                "total": total_memory,
                "used": used_memory,
                "free": total_memory - used_memory,
            },
            "accelerators": {
                "total": total_devices,
                "used": used_devices,
                "free": total_devices - used_devices,
            },
        },
    }


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


_HEADER = ("INSTANCE / COPY", "TYPE / COMPONENT", "VCPUS", "MEMORY MB", "ACCELERATORS")


def _instance_row(slot: InstanceSlot) -> tuple[str, ...]:
    kind = slot.instance_type
    devices = "-"
    if kind.accelerator_count:
        devices = (
            f"{len(slot.used_accelerators)}/{kind.accelerator_count}"
            f" (free {format_indices(slot.free_accelerators)})"
        )
    return (
        slot.instance_id,
        kind.name,
        f"{format_cpus(slot.used_millicpus)}/{kind.vcpus}",
        f"{slot.used_memory_mb}/{kind.memory_mib}",
        devices,
    )


def _copy_row(copy: PlacedCopy) -> tuple[str, ...]:
    need = copy.requirements
    memory = str(need.min_memory_mb)
    if need.max_memory_mb is not None:
        memory += f" (max {need.max_memory_mb})"
    return (
        f"  {copy.copy_id}",
        f"  {copy.component}",
        format_cpus(need.millicpus),
        memory,
        format_indices(copy.accelerator_indices),
    )


def format_table(instances: Sequence[InstanceSlot]) -> str:
    """A fixed-width table: one line per instance (used/total), its copies below."""
    rows: list[tuple[str, ...]] = [_HEADER]
    for slot in instances:
        rows.append(_instance_row(slot))
        rows.extend(_copy_row(copy) for copy in slot.copies)
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    totals = placement_json(instances)["totals"]
    lines.append(
        f"{_count(totals['instances'], 'instance')}, {_count(totals['copies'], 'copy', 'copies')};"
        f" vCPUs {format_cpus(sum(s.used_millicpus for s in instances))}"
        f"/{totals['vcpus']['total']},"
        f" memory {totals['memory_mb']['used']}/{totals['memory_mb']['total']} MB,"
        f" accelerators {totals['accelerators']['used']}/{totals['accelerators']['total']}"
    )
    return "\n".join(lines)
