"""Unique resource names, so tests can share one server."""

from __future__ import annotations

import itertools
import os

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"
