"""Default handlers and encoders: what runs when the inference script is silent.

These are the SageMaker inference toolkit's defaults, used by
:mod:`moorage.container.handlers` for whichever of ``input_fn``,
``predict_fn`` and ``output_fn`` the script does not define:

- :func:`decode_input` reads ``application/json`` (``json.loads``: lists,
  dicts, numbers), ``text/csv`` (a 2-D float ``numpy`` array, a single row
  stays 2-D) and ``application/x-npy`` (``numpy.load`` without pickle).
  Anything else is HTTP 415; an undecodable body is HTTP 400.
- :func:`predict` calls ``model.predict(data)``, else ``model(data)``.
- :func:`encode_output` negotiates the ``Accept`` value against JSON, CSV
  and NPY (HTTP 406 if none fits) and returns ``(body, content_type)``.

It also holds the encoders the response path shares (:func:`to_json`,
:func:`encode_chunk` for streamed chunks) and :func:`media_type`.
Media types are compared without parameters and case-insensitively.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from moorage.container.errors import InvocationError

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
# The request body reaches input_fn / transform_fn as str for these (as in the toolkit).
UTF8_TYPES = frozenset({JSON, CSV})
_SUPPORTED = f"{JSON}, {CSV}, {NPY}"


@functools.lru_cache(maxsize=256)
def media_type(value: str) -> str:
    """``'Application/JSON; charset=utf-8'`` → ``'application/json'``."""
    return value.partition(";")[0].strip().lower()


def is_stream(value: object) -> bool:
    """Whether a handler's result is to be streamed chunk by chunk (a generator, an iterator)."""
    return isinstance(value, Iterator)


# -- input ---------------------------------------------------------------------------------


def decode_input(input_data: str | bytes, content_type: str) -> object:
    """The default ``input_fn``."""
    kind = media_type(content_type)
    if kind == JSON:
        try:
            return json.loads(input_data)
        except ValueError as exc:
            raise _bad_body(content_type, exc) from None
    if kind == CSV:
        text = input_data.decode() if isinstance(input_data, bytes) else input_data
        if not text.strip():
            raise _bad_body(content_type, "the body is empty")
        try:
            return np.loadtxt(io.StringIO(text), delimiter=",", dtype=float, ndmin=2)
        except ValueError as exc:
            raise _bad_body(content_type, exc) from None
    if kind == NPY:
        raw = input_data.encode() if isinstance(input_data, str) else input_data
        try:
            return np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise _bad_body(content_type, exc) from None
    raise InvocationError(
        415,
        f"Content type {content_type!r} is not supported by the default input_fn "
        f"(supported: {_SUPPORTED}); define input_fn in the inference script to accept it.",
    )


def _bad_body(content_type: str, why: object) -> InvocationError:
    return InvocationError(400, f"The request body is not valid {media_type(content_type)}: {why}")


# -- predict -------------------------------------------------------------------------------


def predict(data: object, model: object) -> object:
    """The default ``predict_fn``."""
    method = getattr(model, "predict", None)
    if callable(method):
        return method(data)
    if callable(model):
        return model(data)
    raise TypeError(
        f"the model returned by model_fn ({type(model).__name__}) has no predict() method "
        "and is not callable; define predict_fn in the inference script"
    )


# -- output --------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    tolist = getattr(value, "tolist", None)  # tensors, pandas series
    if callable(tolist):
        return tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: object) -> bytes:
    return json.dumps(value, default=_json_default).encode()


def to_csv(value: object) -> bytes:
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    buffer = io.StringIO()
    np.savetxt(buffer, array, delimiter=",", fmt="%s")
    return buffer.getvalue().encode()


def to_npy(value: object) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return buffer.getvalue()


ENCODERS: dict[str, Callable[[object], bytes]] = {JSON: to_json, CSV: to_csv, NPY: to_npy}


def encode_output(prediction: object, accept: str, default_accept: str) -> object:
    """The default ``output_fn``: ``(body, content_type)``, or a stream passed through.

    ``accept`` may list several types (``text/csv, application/json``); the
    first supported one wins, in the order given, and ``*/*`` stands for
    ``default_accept`` (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``).
    """
    if is_stream(prediction):
        return prediction
    encoder = ENCODERS.get(accept)
    if encoder is not None:  # the common case: one plain type
        return encoder(prediction), accept
    for entry in accept.split(","):
        kind = media_type(entry)
        if kind == ANY:
            kind = media_type(default_accept)
        encoder = ENCODERS.get(kind)
        if encoder is not None:
            return encoder(prediction), kind
    raise InvocationError(
        406,
        f"Accept {accept!r} is not supported by the default output_fn "
        f"(supported: {_SUPPORTED}); define output_fn in the inference script to produce it.",
    )


def encode_chunk(value: object) -> bytes:
    """One streamed chunk: bytes as they are, str as UTF-8, anything else as a JSON line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return to_json(value) + b"\n"
