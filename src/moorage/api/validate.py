"""Validate a request against botocore's input shape, the way AWS does.

Every protocol decodes its body into a *raw params* dict; :func:`validate`
walks it against the operation's input shape and returns the params with
timestamps as epoch seconds (``float``) and blobs as ``bytes``. All problems
are collected and reported in one ``ValidationException`` in AWS's form::

    2 validation errors detected: Value 'x' at 'endpointConfigName' failed to
    satisfy constraint: Member must ...; Value null at 'modelName' ...

The answer stays small whatever the request: every error is counted, but only
the first :data:`MAX_LISTED_ERRORS` are written out (the rest as "and N more
validation errors not listed"), an echoed value is cut at
:data:`MAX_SHOWN_VALUE` characters and one error at :data:`MAX_ERROR_CHARS`.
The walk is one pass over the request, so its cost is linear in the request
(whose size the decoders bound, :mod:`moorage.api.json_decode`).

Text is refused here for every protocol when it cannot be encoded: a string
with an unpaired UTF-16 surrogate (JSON's ``"\\ud800"``) is a constraint
violation of its member, never passed on to a handler. Timestamps must be
finite and between years 1 and 9999.

Member paths are AWS's: lower-camel member names, list members as
``productionVariants.1.member.variantName``, maps by the map member's path.

Local extensions: the URL shapes (ModelDataUrl, ArtifactUrl, S3Uri,
capture destinations) also accept ``file://`` URLs and absolute paths, which
AWS's patterns do not (docs/artifacts.md).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from moorage.api.patterns import matches
from moorage.errors import SerializationError, ValidationError

# Shapes whose pattern is widened to admit local artifact locations.
_LOCAL_URL_SHAPES = frozenset(
    {"Url", "S3ModelUri", "DestinationS3Uri", "S3Uri", "InputLocationHeader"}
)
_LOCAL_URL_PATTERN = r"(file://.+)|(/.+)"
# Added to their pattern error, so that the message names every accepted form.
_LOCAL_URL_FORMS = (
    "accepted forms: an s3:// or https:// URL as the pattern says, or (local extension) "
    "file:///absolute/path or /absolute/path"
)

# How many errors one message lists, how much of a value it echoes, and how long
# one error may be (an enum of every instance type is ~4,500 characters).
MAX_LISTED_ERRORS = 10
MAX_SHOWN_VALUE = 256
MAX_ERROR_CHARS = 8192

# Unpaired UTF-16 surrogates: a JSON "\\udXXX" escape can put them in a str,
# and no UTF-8 (or CBOR, or XML) writer can encode them.
_SURROGATE = re.compile("[\ud800-\udfff]")

# The timestamps a datetime can hold, to the millisecond (a float that far from
# 1970 has no microseconds to spare): 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
_MIN_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp()
_MAX_EPOCH = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC).timestamp()
_TIMESTAMP_RANGE = (
    "Member must be a timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
)


class Errors:
    """The validation errors of one request: all counted, the first few kept."""

    __slots__ = ("count", "listed")

    def __init__(self) -> None:
        self.count = 0
        self.listed: list[str] = []

    @property
    def full(self) -> bool:
        """True once no more errors will be listed (further ones are only counted)."""
        return len(self.listed) >= MAX_LISTED_ERRORS

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append(_bounded(message))

    def merge(self, other: Errors, prefix: str, suffix: str) -> None:
        """Take ``other``'s errors, each wrapped as ``...prefix Member must ...suffix``."""
        for err in other.listed:
            if len(self.listed) < MAX_LISTED_ERRORS:
                self.listed.append(_bounded(err.replace("Member must", prefix, 1) + suffix))
        self.count += other.count

    def message(self) -> str:
        return format_errors(self.listed, total=self.count)


def validate(shape: Any, raw: Any) -> dict[str, Any]:
    """Check ``raw`` against the input ``shape``; return the converted params."""
    if shape is None:
        if raw is not None and not isinstance(raw, dict):
            raise SerializationError("The request body must be a JSON object.")
        return {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SerializationError("The request body must be a JSON object.")
    errors = Errors()
    result = _structure(shape, raw, "", errors)
    if errors.count:
        raise ValidationError(errors.message())
    return result


def format_errors(errors: Sequence[str], *, total: int | None = None) -> str:
    """AWS's "N validation errors detected: ..." with at most :data:`MAX_LISTED_ERRORS` listed.

    ``total`` is the number of errors found when ``errors`` holds only some.
    """
    count = len(errors) if total is None else max(total, len(errors))
    listed = [_bounded(err) for err in errors[:MAX_LISTED_ERRORS]]
    noun = "error" if count == 1 else "errors"
    text = f"{count} validation {noun} detected: " + "; ".join(listed)
    more = count - len(listed)
    if more:
        text += f"; and {more} more validation {'error' if more == 1 else 'errors'} not listed"
    return text


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[:MAX_ERROR_CHARS] + "..."


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds an unpaired surrogate (so it cannot be encoded as UTF-8)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def printable(text: str) -> str:
    """``text`` with unpaired surrogates written as ``\\udXXX``, safe to encode."""
    if not has_surrogates(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def member_path(parent: str, member: str) -> str:
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def show(value: Any) -> str:
    """A value as AWS quotes it in validation messages."""
    if value is None:
        return "null"
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        try:
            text = repr(value)
        except ValueError:  # an integer past Python's digit limit for str()
            text = f"<an integer of {int(value).bit_length()} bits>"
    elif isinstance(value, bytes | bytearray):
        text = _opaque(value)
    else:
        text = _clipped_json(value)
    if len(text) > MAX_SHOWN_VALUE:
        text = text[:MAX_SHOWN_VALUE] + "..."
    return f"'{printable(text)}'"


def _clipped_json(value: Any) -> str:
    """The start of ``value`` as JSON: encoding stops once past what a message shows.

    A list of a million items is quoted by its first few, without encoding
    the rest (the encoder's Python form yields its output piece by piece).
    """
    pieces: list[str] = []
    size = 0
    try:
        for piece in _ENCODER.iterencode(value):
            pieces.append(piece)
            size += len(piece)
            if size > MAX_SHOWN_VALUE:
                break
    except (TypeError, ValueError, RecursionError):
        pieces.append("...")
    return "".join(pieces)


def _opaque(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return repr(value)[:MAX_SHOWN_VALUE]


_ENCODER = json.JSONEncoder(default=_opaque, separators=(",", ":"))


def _fail(errors: Errors, value: Any, path: str, constraint: str) -> None:
    if errors.full:
        # Counted, not written: a million bad items cost no million messages.
        errors.count += 1
        return
    where = path or "request"
    errors.add(f"Value {show(value)} at '{where}' failed to satisfy constraint: {constraint}")


def _check(shape: Any, value: Any, path: str, errors: Errors) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            _fail(errors, value, path, "Member must be a structure")
            return value
        return _structure(shape, value, path, errors)
    if kind == "list":
        return _list(shape, value, path, errors)
    if kind == "map":
        return _map(shape, value, path, errors)
    if kind == "string":
        return _string(shape, value, path, errors)
    if kind in ("integer", "long"):
        return _integer(shape, value, path, errors)
    if kind in ("float", "double"):
        return _number(shape, value, path, errors)
    if kind == "boolean":
        if not isinstance(value, bool):
            _fail(errors, value, path, "Member must be a boolean")
        return value
    if kind == "timestamp":
        return _timestamp(value, path, errors)
    if kind == "blob":
        return _blob(value, path, errors)
    return value


def _structure(shape: Any, value: dict[str, Any], path: str, errors: Errors) -> dict[str, Any]:
    members = shape.members
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name not in members:
            where = f" at '{path}'" if path else ""
            errors.add(f"Unknown parameter {show(str(name))}{where}")
            continue
        if item is None:
            continue
        out[name] = _check(members[name], item, member_path(path, name), errors)
    for name in shape.required_members:
        if value.get(name) is None:
            if errors.full:
                errors.count += 1
                continue
            _fail(errors, None, member_path(path, name), "Member must not be null")
    return out


def _length(shape: Any, value: Any, size: int, path: str, errors: Errors) -> None:
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    if hi is not None and size > hi:
        _fail(errors, value, path, f"Member must have length less than or equal to {hi}")
    if lo is not None and size < lo:
        _fail(errors, value, path, f"Member must have length greater than or equal to {lo}")


def _list(shape: Any, value: Any, path: str, errors: Errors) -> Any:
    if not isinstance(value, list):
        _fail(errors, value, path, "Member must be a list")
        return value
    _length(shape, value, len(value), path, errors)
    return [
        _check(shape.member, item, f"{path}.{i}.member", errors)
        for i, item in enumerate(value, start=1)
    ]


def _map(shape: Any, value: Any, path: str, errors: Errors) -> Any:
    if not isinstance(value, dict):
        _fail(errors, value, path, "Member must be a map")
        return value
    _length(shape, value, len(value), path, errors)
    out: dict[str, Any] = {}
    for key, item in value.items():
        key_errors = Errors()
        _check(shape.key, key, path, key_errors)
        if key_errors.count:
            errors.merge(key_errors, "Map keys must satisfy constraint: [Member must", "]")
        if item is None:
            _fail(
                errors, None, path, "Map value must satisfy constraint: [Member must not be null]"
            )
            continue
        value_errors = Errors()
        out[key] = _check(shape.value, item, path, value_errors)
        if value_errors.count:
            errors.merge(value_errors, "Map value must satisfy constraint: [Member must", "]")
    return out


def _string(shape: Any, value: Any, path: str, errors: Errors) -> Any:
    if not isinstance(value, str):
        _fail(errors, value, path, "Member must be a string")
        return value
    if has_surrogates(value):
        _fail(errors, value, path, "Member must not contain unpaired surrogate characters")
        return value
    _length(shape, value, len(value), path, errors)
    enum = shape.enum
    if enum and value not in enum:
        _fail(errors, value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return value
    pattern = shape.metadata.get("pattern")
    if pattern and not matches(pattern, value):
        if shape.name in _LOCAL_URL_SHAPES and matches(_LOCAL_URL_PATTERN, value):
            return value
        forms = f" ({_LOCAL_URL_FORMS})" if shape.name in _LOCAL_URL_SHAPES else ""
        _fail(
            errors,
            value,
            path,
            f"Member must satisfy regular expression pattern: {pattern}{forms}",
        )
    return value


def _range(shape: Any, value: float, path: str, errors: Errors) -> None:
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    if hi is not None and value > hi:
        _fail(errors, value, path, f"Member must have value less than or equal to {_num(hi)}")
    if lo is not None and value < lo:
        _fail(errors, value, path, f"Member must have value greater than or equal to {_num(lo)}")


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _integer(shape: Any, value: Any, path: str, errors: Errors) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(errors, value, path, "Member must be an integer")
        return value
    _range(shape, value, path, errors)
    return value


def _number(shape: Any, value: Any, path: str, errors: Errors) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        _fail(errors, value, path, "Member must be a number")
        return value
    _range(shape, float(value), path, errors)
    return float(value)


def _finite(value: float) -> bool:
    # A JSON or CBOR integer can be too large for a float at all.
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _timestamp(value: Any, path: str, errors: Errors) -> Any:
    if isinstance(value, bool):
        _fail(errors, value, path, "Member must be a timestamp")
        return value
    stamp = _epoch(value)
    if stamp is None:
        _fail(errors, value, path, "Member must be a timestamp")
        return value
    if not (_finite(stamp) and _MIN_EPOCH <= stamp <= _MAX_EPOCH):
        _fail(errors, value, path, _TIMESTAMP_RANGE)
        return value
    return float(stamp)


def _epoch(value: Any) -> float | None:
    """Epoch seconds of a number, a datetime or an ISO 8601 / numeric string; else None.

    The result may be NaN, infinite or far out of range: the caller checks.
    """
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            return math.inf if value > 0 else -math.inf
    if isinstance(value, dt.datetime):
        return _aware_timestamp(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
        return _aware_timestamp(parsed)
    return None


def _aware_timestamp(moment: dt.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):  # year 1 or 9999 shifted past the range
        return math.inf


def _blob(value: Any, path: str, errors: Errors) -> Any:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    _fail(errors, value, path, "Member must be base64-encoded binary data")
    return value
