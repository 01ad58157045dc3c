"""``moorage placement``: ask a running server where an endpoint's component copies run.

Python API: :func:`fetch_placement` returns the document of
``GET /moorage/placement/{endpoint}`` (see ``docs/inference-components.md``);
:func:`format_placement` renders it as the tables of
:func:`moorage.placement.format_table`, one per production variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.auth.signing import Access
from moorage.clients.pages import fetch_page
from moorage.placement import InstanceSlot, PlacedCopy, Requirements, default_catalog, format_table


def fetch_placement(
    access: Access, endpoint_name: str, *, timeout_s: float = 30.0
) -> dict[str, Any]:
    """``GET /moorage/placement/{endpoint}`` (``PageError`` if refused)."""
    return fetch_page(access, "/moorage/placement/", endpoint_name, timeout_s=timeout_s)


def slots_from_json(instances: list[Mapping[str, Any]]) -> tuple[InstanceSlot, ...]:
    """The instances of a placement document, back as :class:`InstanceSlot` objects."""
    catalog = default_catalog()
    slots = []
    for item in instances:
        copies = tuple(
            PlacedCopy(
                str(c["copy_id"]),
                str(c["component"]),
                Requirements(
                    cpus=float(c["vcpus"]),
                    accelerators=len(c["accelerator_indices"]),
                    min_memory_mb=int(c["min_memory_mb"]),
                    max_memory_mb=c.get("max_memory_mb"),
                ),
                tuple(int(i) for i in c["accelerator_indices"]),
            )
            for c in item["copies"]
        )
        slots.append(
            InstanceSlot(str(item["instance_id"]), catalog.get(str(item["instance_type"])), copies)
        )
    return tuple(slots)


def format_placement(document: Mapping[str, Any]) -> str:
    lines = [f"Endpoint {document['endpoint']} ({document['endpoint_status']})"]
    for variant in document["variants"]:
        lines.append("")
        lines.append(f"Variant {variant['variant']} ({variant['instance_type']})")
        lines.append(format_table(slots_from_json(variant["instances"])))
    components = document.get("components") or []
    if components:
        lines.append("")
        width = max(len(c["name"]) for c in components)
        for c in components:
            if c["base"]:
                copies = f"adapter of {c['base']}"
            else:
                copies = f"copies {c['current_copies']}/{c['desired_copies']}"
            line = f"{c['name'].ljust(width)}  {c['status']:<10} {copies}"
            if c.get("failure_reason"):
                line += f"  ({c['failure_reason']})"
            lines.append(line)
    return "\n".join(lines)
