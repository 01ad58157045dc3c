"""``moorage placement``: where an endpoint's copies run (:mod:`moorage.clients.placement`)."""

from __future__ import annotations

from typing import Any

from moorage.cli.page_command import Fetch, Format, add_page_command


def _load() -> tuple[Fetch, Format]:
    from moorage.clients.placement import fetch_placement, format_placement

    return fetch_placement, format_placement


def add_parser(commands: Any) -> None:
    add_page_command(
        commands,
        "placement",
        "print where an endpoint's inference-component copies run and the capacity left",
        _load,
    )
