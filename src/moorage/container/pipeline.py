"""One invocation, synchronously: decode, predict, encode, and shape the reply.

:class:`Pipeline` is what the ASGI app (:mod:`moorage.container.app`) runs in
its handler thread pool, once per request. It applies the toolkit's request
rules (a missing or ``*/*`` Accept means ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``;
a JSON or CSV body reaches the script as ``str``, anything else as ``bytes``)
and turns what ``output_fn`` / ``transform_fn`` returned into a :class:`Reply`:

- ``bytes`` / ``str``: the body, typed with the Accept value;
- ``(body, content_type)``: the body, typed as given;
- an iterator or generator: a stream. Its first chunk is pulled here, still
  in the pool, so that a failure before any output is an ordinary HTTP 500;
  the app pulls the rest with :func:`next_chunk`.

Header values are encoded and checked here too, so the app only copies bytes
to the socket.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from moorage.container import codecs
from moorage.container.context import Context
from moorage.container.errors import InvocationError
from moorage.container.handlers import Handlers

DEFAULT_CONTENT_TYPE = codecs.JSON
# Hop-by-hop and framing headers belong to the server, not to a handler.
_RESERVED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_END = object()
_CACHE_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Reply:
    """A 200 answer: a whole ``body``, or ``body`` as the first chunk of ``stream``."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    stream: Iterator[object] | None = None


class Pipeline:
    def __init__(self, handlers: Handlers, model: object, *, default_accept: str) -> None:
        self.handlers = handlers
        self.model = model
        self.default_accept = default_accept
        self._type_headers: dict[str, bytes] = {}

    def invoke(self, body: bytes, content_type: str, accept: str, context: Context | None) -> Reply:
        """Serve one request; raises :class:`InvocationError` or whatever a handler raised."""
        if not content_type:
            content_type = DEFAULT_CONTENT_TYPE
        if not accept or accept == codecs.ANY:
            accept = self.default_accept
        data: bytes | str = body
        if codecs.media_type(content_type) in codecs.UTF8_TYPES:
            try:
                data = body.decode()
            except UnicodeDecodeError as exc:
                raise InvocationError(
                    400, f"The {content_type} request body is not valid UTF-8: {exc}"
                ) from None
        h = self.handlers
        if h.transform_fn is not None:
            result = h.transform_fn.call(context, self.model, data, content_type, accept)
            producer = "transform_fn"
        else:
            decoded = h.input_fn.call(context, data, content_type)
            prediction = h.predict_fn.call(context, decoded, self.model)
            result = h.output_fn.call(context, prediction, accept)
            producer = "output_fn"
        return self._reply(result, accept, context, producer)

    def _reply(self, result: object, accept: str, context: Context | None, producer: str) -> Reply:
        content_type = accept
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            result, content_type = result
        headers = [(b"content-type", self._type_header(content_type))]
        if context is not None and context.response_headers:
            headers = _with_handler_headers(headers, context.response_headers)
        if isinstance(result, bytes):
            body = result
        elif isinstance(result, str):
            body = result.encode()
        elif isinstance(result, bytearray | memoryview):
            body = bytes(result)
        elif codecs.is_stream(result):
            assert isinstance(result, Iterator)
            first = next(result, _END)
            if first is not _END:
                return Reply(headers, codecs.encode_chunk(first), result)
            body = b""
        else:
            raise TypeError(
                f"{producer} returned {type(result).__name__}; expected bytes, str, "
                "a (body, content_type) tuple, or an iterator of chunks to stream"
            )
        headers.append((b"content-length", str(len(body)).encode()))
        return Reply(headers, body)

    def _type_header(self, content_type: str) -> bytes:
        value = self._type_headers.get(content_type)
        if value is None:
            value = header_value("Content-Type", content_type)
            if len(self._type_headers) < _CACHE_LIMIT:
                self._type_headers[content_type] = value
        return value


def next_chunk(stream: Iterator[object]) -> bytes | None:
    """The next encoded chunk of a stream, ``None`` at its end (runs in the pool)."""
    value = next(stream, _END)
    return None if value is _END else codecs.encode_chunk(value)


def close_stream(stream: Iterator[object]) -> None:
    """Let a generator run its ``finally`` blocks when its reader went away."""
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def header_value(name: str, value: str) -> bytes:
    if _BAD_VALUE.search(value):
        raise ValueError(f"the {name} response header value {value!r} has control characters")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"the {name} response header value {value!r} is not Latin-1") from None


def _with_handler_headers(
    headers: list[tuple[bytes, bytes]], extra: dict[str, str]
) -> list[tuple[bytes, bytes]]:
    out = headers
    for name, value in extra.items():
        key = name.strip().lower()
        if key in _RESERVED:
            continue
        if not key or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9a-z-]+", key):
            raise ValueError(f"a handler set an invalid response header name {name!r}")
        encoded = (key.encode(), header_value(name, value))
        if key == "content-type":
            out[0] = encoded
        else:
            out.append(encoded)
    return out
