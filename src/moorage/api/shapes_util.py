"""Small helpers the model-driven codecs share: timestamps and member walking.

The CBOR codec (:mod:`moorage.api.cbor_codec`), the query decoder
(:mod:`moorage.api.query_codec`) and the XML writer
(:mod:`moorage.api.xml_output`) all walk botocore shapes and convert the same
few scalar forms. Response dicts are built by handlers (timestamps as epoch
seconds or aware ``datetime``); raw params carry timestamps as epoch seconds.
An output member the shape does not define is a programming error and raises
:class:`~moorage.api.serialize.OutputShapeError`, as the JSON serializer does.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from moorage.api.serialize import OutputShapeError

# Plain decimal numbers only: ``float()`` alone would also take "1_0", "inf"
# and non-ASCII digits, which no AWS client sends.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# botocore's query serializer spells the IEEE specials this way.
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def epoch_seconds(value: Any) -> float:
    """Epoch seconds, millisecond resolution, from a float or a ``datetime``.

    A naive ``datetime`` is taken as UTC: handlers use the injected clock,
    which works in UTC, and guessing a local zone would shift every stamp.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        stamp: float = value.timestamp()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OutputShapeError(f"timestamp value {value!r} is not epoch seconds or a datetime")
    else:
        stamp = float(value)
    return round(stamp, 3)


def iso8601(value: Any) -> str:
    """A response timestamp as AWS's XML protocols write it: UTC, milliseconds, ``Z``."""
    stamp = epoch_seconds(value)
    moment = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_integer(text: str) -> int | None:
    if not _INTEGER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # past Python's digit limit for int(); no member is that large
        return None


def parse_float(text: str) -> float | None:
    special = _SPECIAL_FLOATS.get(text)
    if special is not None:
        return special
    return float(text) if _NUMBER.fullmatch(text) else None


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds from ISO 8601 or an epoch number; ``None`` if neither."""
    if _NUMBER.fullmatch(text):
        return float(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def present_members(shape: Any, value: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """``(name, member_shape, item)`` for each non-``None`` member of a response dict."""
    if not isinstance(value, Mapping):
        raise OutputShapeError(f"{shape.name} must be a dict, not {type(value).__name__}")
    members = shape.members
    for name, item in value.items():
        if item is None:
            continue
        member = members.get(name)
        if member is None:
            raise OutputShapeError(f"{shape.name} has no member {name!r}")
        yield name, member, item
