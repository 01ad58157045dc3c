"""JSON text from callers, decoded within limits on nesting and size.

Every JSON document a caller controls goes through :func:`loads`: request
bodies of the JSON protocols (:mod:`moorage.api.json_protocol`, the plan
page), ``SetAlarmState``'s ``StateReasonData``
(:mod:`moorage.monitoring.alarm_state`) and the ``NextToken`` strings the
list operations hand back. Python's ``json`` recurses once per nesting level
and builds one object per value, so without limits a small body nested a
thousand levels deep raises ``RecursionError`` (a 500), and a 16 MiB body of
``{},{},...`` costs half a gigabyte before any validation can refuse it.

The limits, far above what any well-formed request needs (the largest,
a ``PutMetricData`` with 1,000 datums of 150 values, 150 counts and 30
dimensions each, holds about 400,000 values):

- :data:`MAX_DEPTH` levels of arrays and objects;
- :data:`MAX_VALUES` values (objects, arrays, strings, numbers, literals;
  object keys are not counted), checked *before* parsing from the body's
  separators, so an oversized document is refused without being built.

A document past either limit raises :class:`JsonLimitError`, a
``ValueError`` as ``json``'s own errors are, so callers that already turn a
``ValueError`` into their error keep working.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
MAX_VALUES = 500_000

# A JSON string, quotes included (the unrolled form scans long strings in one pass).
_STRING_BYTES = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_TEXT = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# json.loads builds exactly these (an exact type test is the fast one).
_CONTAINERS = (dict, list)


class JsonLimitError(ValueError):
    """The document nests too deeply or holds too many values."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> Any:
    """``json.loads(data)`` within the limits; ``ValueError`` for a bad document."""
    _check_values(data, max_values)
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonLimitError(_too_deep(max_depth)) from None
    _check_depth(value, max_depth)
    return value


def _too_deep(max_depth: int) -> str:
    return f"the document nests more than {max_depth} levels of arrays and objects"


def _check_values(data: bytes | str, max_values: int) -> None:
    # Every value but the first of its array or object follows a comma, so
    # commas + openings + 1 bounds the number of values. Each value takes at
    # least one character, so a short document needs no counting at all.
    if len(data) <= max_values or _value_bound(data) <= max_values:
        return
    # Commas and brackets inside strings inflated the bound: count again without them.
    if isinstance(data, bytes):
        structure: bytes | str = _STRING_BYTES.sub(b'""', data)
    else:
        structure = _STRING_TEXT.sub('""', data)
    if _value_bound(structure) > max_values:
        raise JsonLimitError(f"the document holds more than {max_values} values")


def _value_bound(data: bytes | str) -> int:
    if isinstance(data, bytes):
        return data.count(b",") + data.count(b"[") + data.count(b"{") + 1
    return data.count(",") + data.count("[") + data.count("{") + 1


def _check_depth(value: Any, max_depth: int) -> None:
    # Level by level, so that checking a deep document cannot itself recurse.
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise JsonLimitError(_too_deep(max_depth))
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below += [child for child in children if type(child) in _CONTAINERS]
        level = below
