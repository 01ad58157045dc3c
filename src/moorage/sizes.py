"""Byte sizes as people write them: ``512M``, ``20G``, ``1.5GiB``.

The command line (:mod:`moorage.cli`) parses size options with
:func:`parse_size`; messages that name a size (the artifact limits in
:mod:`moorage.artifacts.space`) print it with :func:`format_size`. Every
unit is a power of 1024, whichever spelling is used (``M``, ``MB`` and
``MiB`` are all 1024² bytes), as ``ls -h``, ``du -h`` and ``docker`` read
them.
"""

from __future__ import annotations

import math
import re

_UNITS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
_SIZE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([KMGTP]?)(?:I?B)?", re.IGNORECASE)


class SizeError(ValueError):
    """A size that cannot be read; the message says what is expected."""


def parse_size(text: str) -> int:
    """The number of bytes ``text`` names: a number and an optional unit (K, M, G, T, P)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise SizeError(
            f"{text!r} is not a size: write a number of bytes, or a number with a unit "
            "K, M, G or T (powers of 1024), e.g. 512M or 20G"
        )
    number, unit = match.groups()
    value = float(number) * 1024 ** _UNITS[unit.upper()]
    if not math.isfinite(value) or value >= 2**63:
        raise SizeError(f"{text!r} is too large")
    return int(value)


def format_size(size: int) -> str:
    """``size`` bytes for people: ``50 MiB``, ``1.5 GiB``, ``812 bytes``."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        text = f"{value:.1f}"
        if float(text) < 1024 or unit == "PiB":
            return text.removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")
