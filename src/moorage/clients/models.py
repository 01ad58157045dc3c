"""``moorage models``: ask a running server which models a multi-model endpoint holds.

Python API: :func:`fetch_models` returns the document of
``GET /moorage/models/{endpoint}`` (see ``docs/multi-model.md``);
:func:`format_models` renders it as two tables: each copy with the memory its
models hold and the models loaded in it (least recently used first), then
each model with its invocations, cache hits, loads, unloads and the copies
holding it now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moorage.auth.signing import Access
from moorage.clients.pages import fetch_page

MIB = 1024 * 1024


def fetch_models(access: Access, endpoint_name: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """``GET /moorage/models/{endpoint}`` (``PageError`` if refused)."""
    return fetch_page(access, "/moorage/models/", endpoint_name, timeout_s=timeout_s)


def format_models(document: Mapping[str, Any]) -> str:
    lines = [f"Endpoint {document['endpoint']} ({document.get('endpoint_status', '?')})"]
    copies: Sequence[Mapping[str, Any]] = document.get("copies") or []
    models: Sequence[Mapping[str, Any]] = document.get("models") or []
    if not copies and not models:
        lines.append("No multi-model container has loaded a model on this endpoint.")
        return "\n".join(lines)
    lines.append("")
    copy_rows = [("VARIANT", "INSTANCE", "CONTAINER", "MEMORY USED / BUDGET", "LOADED")]
    for c in copies:
        budget = c.get("memory_budget_bytes")
        shown = f"{c['memory_used_bytes'] / MIB:.1f} / " + (
            f"{budget / MIB:.1f} MiB" if budget else "unbounded"
        )
        loaded = ", ".join(m["target_model"] for m in c["models"]) or "-"
        copy_rows.append((c["variant"], c["instance_id"], c.get("container") or "-", shown, loaded))
    lines.extend(_table(copy_rows))
    lines.append("")
    model_rows = [
        ("MODEL", "VARIANT", "INVOCATIONS", "CACHE HITS", "LOADS", "UNLOADS", "LOADED ON")
    ]
    for m in models:
        model_rows.append(
            (
                m["target_model"],
                m["variant"],
                str(m["invocations"]),
                str(m["cache_hits"]),
                str(m["loads"]),
                str(m["unloads"]),
                str(m["loaded_on"]),
            )
        )
    lines.extend(_table(model_rows))
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
