"""Hypothesis strategies built from botocore's service models, and the fuzz's checks.

:func:`params_for` draws the parameters of one operation from its input
shape: mostly values of the right type near the model's limits (enums,
lengths at and past ``min``/``max``, numbers at and past their range), mixed
with what a client would never send: wrong types, missing required members,
unknown members, ``None``, huge and empty strings, unpaired surrogates,
non-finite and out-of-range numbers and timestamps, and deep nesting.
:func:`raw_json_bodies` draws whole request bodies, malformed ones included,
for raw requests. :func:`served_operations` reads an operation table of the
server from its source (the table is the single list of what is served).
:func:`check_reply` is what every answer must satisfy: no 5xx (but a 501 for
an operation not served and a 503 ``ServiceUnavailable``), an AWS-shaped
error body, and no traceback.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import math
from collections.abc import Callable
from typing import Any

import cbor2
from hypothesis import strategies as st

# How deep a drawn value may follow nested shapes before it stops at a leaf.
MAX_SHAPE_DEPTH = 4
# Statuses at or above 500 that an answer may have, with the error code it must carry.
ALLOWED_5XX = {501: "NotImplemented", 503: "ServiceUnavailable"}
# What the HTTP parser (below every protocol) answers for a request that is not
# HTTP at all, e.g. a control character in a header value: no AWS client sends one.
NOT_HTTP = (400, b"Invalid HTTP request received.")

SURROGATES = ("\ud800", "a\udfffb", "\udbff\udbff", "x\ud800\udc00")
HUGE = "h" * 70_000


def served_operations(function: Callable[..., Any]) -> tuple[str, ...]:
    """The operation names of a handler-table function (a ``return {"Op": ...}``)."""
    tree = ast.parse(inspect.getsource(function))
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            names = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            return tuple(sorted(str(n) for n in names))
    raise AssertionError(f"{function.__name__} returns no dict literal")


def _wrong_type() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
        st.sampled_from([10, 59, 70, 500]).map(_deep),
    )


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _strings(shape: Any) -> st.SearchStrategy[Any]:
    lo = int(shape.metadata.get("min", 0))
    hi = shape.metadata.get("max")
    options: list[st.SearchStrategy[Any]] = [
        st.text(max_size=24),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=lo, max_size=lo + 8),
        st.sampled_from(SURROGATES),
        st.just(""),
        st.just(HUGE),
        st.from_regex(r"[a-zA-Z0-9\-]{1,40}", fullmatch=True),
    ]
    if shape.enum:
        options.append(st.sampled_from(list(shape.enum)))
        options.append(st.sampled_from(list(shape.enum)))
    if hi is not None and int(hi) <= 100_000:
        options.append(st.just("x" * int(hi)))
        options.append(st.just("x" * (int(hi) + 1)))
    if lo > 0:
        options.append(st.just("x" * (lo - 1)))
    return st.one_of(options)


def _integers(shape: Any) -> st.SearchStrategy[Any]:
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    edges = [v for b in (lo, hi) if b is not None for v in (int(b) - 1, int(b), int(b) + 1)]
    options: list[st.SearchStrategy[Any]] = [
        st.integers(min_value=-(2**63), max_value=2**63),
        st.integers(min_value=0, max_value=100),
        st.just(10**400),
    ]
    if edges:
        options.append(st.sampled_from(edges))
    return st.one_of(options)


def _timestamps() -> st.SearchStrategy[Any]:
    # botocore turns numbers into datetimes before sending, so only years
    # 1..9999 reach the server this way; raw requests send the rest.
    moments = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
    aware = moments.map(lambda d: d.replace(tzinfo=dt.UTC))
    return st.one_of(
        aware,
        aware,
        st.sampled_from([0, -1, 1e300, math.nan, 253402300800, -62135596801]),
    )


def value_for(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for one member of ``shape``, right type or not.

    A structure, list, map, timestamp or blob is always drawn as one: botocore
    cannot serialize anything else in their place, so such a call would never
    reach the server (:func:`raw_json_bodies` sends those).
    """
    typed = _typed(shape, depth)
    if shape.type_name in ("structure", "list", "map", "timestamp", "blob"):
        return typed
    return st.one_of(typed, typed, typed, _wrong_type())


def _typed(shape: Any, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        if depth >= MAX_SHAPE_DEPTH:
            return st.just({})
        return structure(shape, depth + 1)
    if kind == "list":
        if depth >= MAX_SHAPE_DEPTH:
            return st.just([])
        return st.lists(value_for(shape.member, depth + 1), max_size=3)
    if kind == "map":
        if depth >= MAX_SHAPE_DEPTH:
            return st.just({})
        return st.dictionaries(
            st.one_of(_strings(shape.key), st.sampled_from(SURROGATES)),
            value_for(shape.value, depth + 1),
            max_size=3,
        )
    if kind == "string":
        return _strings(shape)
    if kind in ("integer", "long"):
        return _integers(shape)
    if kind in ("float", "double"):
        return st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([1e308, -1e308, 5e-324, 0.0]),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return _timestamps()
    if kind == "blob":
        return st.binary(max_size=64)
    return _wrong_type()


def structure(shape: Any, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A structure: required members usually present, optional ones sometimes.

    No unknown members: botocore cannot serialize them (raw bodies carry them).
    """
    members = shape.members
    required = set(shape.required_members)
    fixed = {name: value_for(members[name], depth) for name in sorted(required)}
    optional = {
        name: value_for(member, depth)
        for name, member in sorted(members.items())
        if name not in required
    }
    # A member bound to the URI path cannot be left out by a client.
    in_path = {n: s for n, s in fixed.items() if members[n].serialization.get("location") == "uri"}
    full = st.fixed_dictionaries(fixed, optional=optional)
    missing = st.fixed_dictionaries(
        in_path, optional={n: s for n, s in {**fixed, **optional}.items() if n not in in_path}
    )
    return st.one_of(full, full, missing)


def params_for(operation_model: Any) -> st.SearchStrategy[dict[str, Any]]:
    shape = operation_model.input_shape
    if shape is None:
        return st.just({})
    return structure(shape)


def _json_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=12,
    )


def raw_json_bodies(input_shape: Any) -> st.SearchStrategy[bytes]:
    """Whole JSON-protocol bodies: well-formed params, odd JSON, and broken bytes."""
    member_names = sorted(input_shape.members) if input_shape is not None else ["X"]

    def params_with(items: list[tuple[str, Any]]) -> bytes:
        return json.dumps(dict(items)).encode()

    depths = st.sampled_from([63, 64, 65, 200, 1_000, 5_000, 100_000])
    return st.one_of(
        st.lists(st.tuples(st.sampled_from(member_names), _json_values()), max_size=4).map(
            params_with
        ),
        _json_values().map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),
        depths.map(lambda n: b'{"' + member_names[0].encode() + b'":' + b"[" * n + b"]" * n + b"}"),
        depths.map(lambda n: b"[" * n),
        depths.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.sampled_from(
            [
                b'{"a": NaN}',
                b'{"a": 1e999999}',
                b'{"a": "\\ud800"}',
                b'{"a": "\xed\xa0\x80"}',
                b'{"a": 1' + b"0" * 5000 + b"}",
                b"\xff\xfe{\x00}\x00",
                b'{"a":1,"a":2}',
                b"{" + b'"k":1,' * 1000 + b'"z":0}',
            ]
        ),
    )


def cbor_bodies() -> st.SearchStrategy[bytes]:
    """RPC v2 CBOR bodies: maps of odd values, nesting, and broken bytes."""
    depths = st.sampled_from([63, 64, 65, 300, 10_000])
    return st.one_of(
        _json_values().map(lambda v: cbor2.dumps({"Namespace": v})),
        st.binary(max_size=64),
        depths.map(lambda n: b"\xa1\x61a" + b"\x81" * n + b"\x80"),
        st.sampled_from(
            [
                b"\xa1\x69StartTime\xc1\xfb" + bytes.fromhex("7ff8000000000000"),
                b"\xa1\x69StartTime\xc1\xfb" + bytes.fromhex("7ff0000000000000"),
                b"\xa1\x69StartTime\xc1\x78\x03nan",
                b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",
                b"\xbf\x61a\x61b",
                b"\xa1\x61a\x7a\xff\xff\xff\xff",
            ]
        ),
    )


def check_reply(status: int, headers: dict[str, str], body: Any, where: str) -> None:
    """Assert that one answer is acceptable (see the module docstring)."""
    if status >= 500:
        allowed = ALLOWED_5XX.get(status)
        code = _error_code(headers, body)
        assert allowed is not None and allowed in code, f"{where}: {status} {body!r:.500}"
    if not isinstance(body, bytes | bytearray):
        return  # a streamed answer
    assert b"Traceback" not in body, f"{where}: {body!r:.500}"
    if (status, bytes(body)) == NOT_HTTP:
        return
    if status >= 400:
        assert _error_code(headers, body), f"{where}: no AWS error code in {status} {body!r:.500}"


def _error_code(headers: dict[str, str], body: Any) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    found = lowered.get("x-amzn-errortype") or lowered.get("x-amzn-query-error") or ""
    if not isinstance(body, bytes | bytearray) or not body:
        return found
    content_type = lowered.get("content-type", "")
    try:
        if "cbor" in content_type:
            decoded = cbor2.loads(body)
        elif "xml" in content_type:
            text = body.decode()
            return found or (text.split("<Code>", 1)[1].split("</Code>", 1)[0])
        else:
            decoded = json.loads(body)
    except (ValueError, IndexError, cbor2.CBORDecodeError):
        return found
    if isinstance(decoded, dict):
        return str(decoded.get("__type") or decoded.get("code") or found)
    return found
