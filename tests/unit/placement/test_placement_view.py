"""JSON and table views of a placement, and the units they print."""

from __future__ import annotations

import json

from moorage.placement import (
    InstanceSlot,
    Requirements,
    Strategy,
    default_catalog,
    format_table,
    place,
    placement_json,
)
from moorage.placement.explain import format_cpus, format_indices


def _example() -> tuple[InstanceSlot, ...]:
    kind = default_catalog().get("ml.g5.12xlarge")
    instances: tuple[InstanceSlot, ...] = (InstanceSlot("i-1", kind), InstanceSlot("i-2", kind))
    llm = Requirements(cpus=4, accelerators=2, min_memory_mb=32768, max_memory_mb=65536)
    instances = place(instances, "llm", llm, 2, Strategy.SPREAD).instances
    small = Requirements(cpus=0.25, min_memory_mb=1024)
    return place(instances, "small", small, 3, Strategy.BINPACK).instances


def test_json_view_lists_copies_and_capacity() -> None:
    document = placement_json(_example())
    json.dumps(document)  # JSON-able as it is
    first = document["instances"][0]
    assert first["instance_id"] == "i-1" and first["instance_type"] == "ml.g5.12xlarge"
    assert first["vcpus"] == {"total": 48, "used": 4.75, "free": 43.25}
    assert first["memory_mb"] == {"total": 196608, "used": 35840, "free": 160768}
    assert first["accelerators"] == {
        "kind": "nvidia-gpu",
        "name": "NVIDIA A10G",
        "total": 4,
        "used": [0, 1],
        "free": [2, 3],
    }
    assert first["copies"][0] == {
        "copy_id": "llm-1",
        "component": "llm",
        "vcpus": 4,
        "accelerator_indices": [0, 1],
        "min_memory_mb": 32768,
        "max_memory_mb": 65536,
    }
    assert [c["copy_id"] for c in first["copies"]] == ["llm-1", "small-1", "small-2", "small-3"]
    assert document["totals"] == {
        "instances": 2,
        "copies": 5,
        "vcpus": {"total": 96, "used": 8.75, "free": 87.25},
        "memory_mb": {"total": 393216, "used": 68608, "free": 324608},
        "accelerators": {"total": 8, "used": 4, "free": 4},
    }


def test_table_view() -> None:
    assert format_table(_example()) == "\n".join(
        [
            "INSTANCE / COPY  TYPE / COMPONENT  VCPUS    MEMORY MB          ACCELERATORS",
            "i-1              ml.g5.12xlarge    4.75/48  35840/196608       2/4 (free 2-3)",
            "  llm-1            llm             4        32768 (max 65536)  0-1",
            "  small-1          small           0.25     1024               -",
            "  small-2          small           0.25     1024               -",
            "  small-3          small           0.25     1024               -",
            "i-2              ml.g5.12xlarge    4/48     32768/196608       2/4 (free 2-3)",
            "  llm-2            llm             4        32768 (max 65536)  0-1",
            "2 instances, 5 copies; vCPUs 8.75/96, memory 68608/393216 MB, accelerators 4/8",
        ]
    )


def test_cpu_instance_table_has_no_device_column_values() -> None:
    kind = default_catalog().get("ml.m5.large")
    table = format_table((InstanceSlot("c-1", kind),))
    assert table.splitlines()[1].split() == ["c-1", "ml.m5.large", "0/2", "0/8192", "-"]
    assert table.splitlines()[-1].startswith("1 instance, 0 copies;")


def test_units() -> None:
    assert [format_cpus(m) for m in (0, 250, 1000, 1500, 2010, 48000, -500)] == [
        "0",
        "0.25",
        "1",
        "1.5",
        "2.01",
        "48",
        "-0.5",
    ]
    assert format_indices(()) == "-"
    assert format_indices((3,)) == "3"
    assert format_indices((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"
