"""Serialize a handler's response dict by botocore's output shape, for JSON.

Handlers build responses with explicit ``to_wire`` functions; this module
only turns them into JSON-ready values by the output shape: timestamps to
epoch seconds, blobs to base64, ``None`` members dropped. A key the shape
does not know is a programming error and raises at once (tests catch it),
rather than leaking internal fields to callers.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any


class OutputShapeError(Exception):
    """A response carried a member that its output shape does not define."""


def to_json(shape: Any, value: Any) -> Any:
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        out: dict[str, Any] = {}
        for name, item in value.items():
            if item is None:
                continue
            member = members.get(name)
            if member is None:
                raise OutputShapeError(f"{shape.name} has no member {name!r}")
            out[name] = to_json(member, item)
        return out
    if kind == "list":
        return [to_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: to_json(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return epoch(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode("ascii")
    return value


def epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        stamp: float = value.timestamp()
        return round(stamp, 3)
    return round(float(value), 3)
