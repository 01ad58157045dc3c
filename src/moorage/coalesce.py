"""uvicorn's httptools protocol, sending a whole small response in one write.

uvicorn writes a response's status line and headers as soon as the app
sends ``http.response.start``, then the body with ``http.response.body``:
two ``send()`` system calls, and two TCP segments the peer has to read,
for every response. :class:`CoalescingHttpToolsProtocol` gives the protocol
a transport that holds back the head of a response with a Content-Length
until the body's first write, then sends both at once (docs/benchmarks.md).

Only such heads are held: a chunked (streamed) response's head, and
``100 Continue``, leave at once. A held head is also sent when the response
completes without writing a body (``HEAD``) and when the connection closes,
so nothing is ever left behind. After an abort (a client that stopped
reading, :mod:`moorage.http_limits`) later writes are dropped rather than
raising in the handler that made them.

Used as ``uvicorn.Config(http=CoalescingHttpToolsProtocol)``; it depends
only on uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS_LINE = b"HTTP/1.1 "
_LENGTH = b"\r\ncontent-length:"  # uvicorn writes header names lower-cased


class CoalescingTransport:
    """Forwards everything to ``transport``, holding back one response head at a time."""

    __slots__ = ("_held", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(_STATUS_LINE) and _LENGTH in data:
            self._held = data
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        transport = self._transport
        self._held = None
        # uvloop refuses writes once aborted, and a handler may still write
        # before it learns of the loss: from now on its writes go nowhere.
        self._transport = cast(asyncio.Transport, _Aborted(transport))
        transport.abort()

    def get_write_buffer_size(self) -> int:
        held = len(self._held) if self._held is not None else 0
        return held + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Aborted:
    """What a :class:`CoalescingTransport` forwards to once aborted: writes are dropped."""

    __slots__ = ("_transport",)

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._coalescing = CoalescingTransport(cast(asyncio.Transport, transport))
        super().connection_made(cast(asyncio.Transport, self._coalescing))

    def on_response_complete(self) -> None:
        # A response without a body write (HEAD) must not keep its head back.
        self._coalescing.flush()
        super().on_response_complete()
