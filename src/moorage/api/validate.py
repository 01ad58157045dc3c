"""Validate a request against botocore's input shape, the way AWS does.

Every protocol decodes its body into a *raw params* dict; :func:`validate`
walks it against the operation's input shape and returns the params with
timestamps as epoch seconds (``float``) and blobs as ``bytes``. All problems
are collected and reported in one ``ValidationException`` in AWS's form::

    2 validation errors detected: Value 'x' at 'endpointConfigName' failed to
    satisfy constraint: Member must ...; Value null at 'modelName' ...

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
from typing import Any

from moorage.api.patterns import matches
from moorage.errors import SerializationError, ValidationError

# Shapes whose pattern is widened to admit local artifact locations.
_LOCAL_URL_SHAPES = frozenset({"Url", "S3ModelUri", "DestinationS3Uri", "S3Uri"})
_LOCAL_URL_PATTERN = r"(file://.+)|(/.+)"

_MAX_SHOWN_VALUE = 256


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
    errors: list[str] = []
    result = _structure(shape, raw, "", errors)
    if errors:
        raise ValidationError(format_errors(errors))
    return result


def format_errors(errors: list[str]) -> str:
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


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
    else:
        try:
            text = json.dumps(value, default=str, separators=(",", ":"))
        except (TypeError, ValueError):
            text = str(value)
    if len(text) > _MAX_SHOWN_VALUE:
        text = text[:_MAX_SHOWN_VALUE] + "..."
    return f"'{text}'"


def _fail(errors: list[str], value: Any, path: str, constraint: str) -> None:
    where = path or "request"
    errors.append(f"Value {show(value)} at '{where}' failed to satisfy constraint: {constraint}")


def _check(shape: Any, value: Any, path: str, errors: list[str]) -> Any:
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


def _structure(shape: Any, value: dict[str, Any], path: str, errors: list[str]) -> dict[str, Any]:
    members = shape.members
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name not in members:
            where = f" at '{path}'" if path else ""
            errors.append(f"Unknown parameter '{name}'{where}")
            continue
        if item is None:
            continue
        out[name] = _check(members[name], item, member_path(path, name), errors)
    for name in shape.required_members:
        if value.get(name) is None:
            _fail(errors, None, member_path(path, name), "Member must not be null")
    return out


def _length(shape: Any, value: Any, size: int, path: str, errors: list[str]) -> None:
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    if hi is not None and size > hi:
        _fail(errors, value, path, f"Member must have length less than or equal to {hi}")
    if lo is not None and size < lo:
        _fail(errors, value, path, f"Member must have length greater than or equal to {lo}")


def _list(shape: Any, value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, list):
        _fail(errors, value, path, "Member must be a list")
        return value
    _length(shape, value, len(value), path, errors)
    return [
        _check(shape.member, item, f"{path}.{i}.member", errors)
        for i, item in enumerate(value, start=1)
    ]


def _map(shape: Any, value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, dict):
        _fail(errors, value, path, "Member must be a map")
        return value
    _length(shape, value, len(value), path, errors)
    out: dict[str, Any] = {}
    for key, item in value.items():
        key_errors: list[str] = []
        _check(shape.key, key, path, key_errors)
        for err in key_errors:
            errors.append(
                err.replace("Member must", "Map keys must satisfy constraint: [Member must", 1)
                + "]"
            )
        if item is None:
            _fail(
                errors, None, path, "Map value must satisfy constraint: [Member must not be null]"
            )
            continue
        value_errors: list[str] = []
        out[key] = _check(shape.value, item, path, value_errors)
        for err in value_errors:
            errors.append(
                err.replace("Member must", "Map value must satisfy constraint: [Member must", 1)
                + "]"
            )
    return out


def _string(shape: Any, value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, str):
        _fail(errors, value, path, "Member must be a string")
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
        _fail(errors, value, path, f"Member must satisfy regular expression pattern: {pattern}")
    return value


def _range(shape: Any, value: float, path: str, errors: list[str]) -> None:
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    if hi is not None and value > hi:
        _fail(errors, value, path, f"Member must have value less than or equal to {_num(hi)}")
    if lo is not None and value < lo:
        _fail(errors, value, path, f"Member must have value greater than or equal to {_num(lo)}")


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _integer(shape: Any, value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(errors, value, path, "Member must be an integer")
        return value
    _range(shape, value, path, errors)
    return value


def _number(shape: Any, value: Any, path: str, errors: list[str]) -> Any:
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


def _timestamp(value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, bool):
        _fail(errors, value, path, "Member must be a timestamp")
        return value
    if isinstance(value, (int, float)) and _finite(value):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.timestamp()
    _fail(errors, value, path, "Member must be a timestamp")
    return value


def _blob(value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    _fail(errors, value, path, "Member must be base64-encoded binary data")
    return value
