"""``moorage models``: the models a multi-model endpoint holds (:mod:`moorage.clients.models`)."""

from __future__ import annotations

from typing import Any

from moorage.cli.page_command import Fetch, Format, add_page_command


def _load() -> tuple[Fetch, Format]:
    from moorage.clients.models import fetch_models, format_models

    return fetch_models, format_models


def add_parser(commands: Any) -> None:
    add_page_command(
        commands,
        "models",
        "print the models a multi-model endpoint holds, per copy, and each model's "
        "invocations, cache hits, loads and unloads",
        _load,
    )
