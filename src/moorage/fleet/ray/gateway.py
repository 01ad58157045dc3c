"""The door of a copy on a Ray node: only callers with the copy's secret get in.

A copy on a Ray node must be reachable from the server's router over the
network, but by no one else. Its model server listens on the node's loopback
interface; the copy's actor (:mod:`moorage.fleet.ray.actor`) runs this
gateway on the node's address. A connection is let through once the first
request on it carries the copy's secret in :data:`SECRET_HEADER` (compared in
constant time); from then on the gateway splices bytes both ways, so
keep-alive requests cost no parsing. When the model server closes its side
(or dies), the router's connection is closed too. A connection whose first request lacks
the secret gets ``403`` and is closed; the model server never sees it.

The router sends the header on every request (``Copy.secret``), so the model
server sees it too; it only opens this one copy, which the model's own code
runs inside anyway.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import cast

SECRET_HEADER = "x-moorage-copy-secret"
_MAX_HEAD = 64 * 1024
_REFUSED = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 34\r\n"
    b"Connection: close\r\n\r\nThis copy answers its router only.\n"
)


def secret_of(head: bytes) -> bytes | None:
    """The secret header's value in a request head, if present."""
    prefix = SECRET_HEADER.encode() + b":"
    for line in head.split(b"\r\n")[1:]:
        if line[: len(prefix)].lower() == prefix:
            return line[len(prefix) :].strip()
    return None


class Gateway:
    """Accepts on ``host``, checks the secret, splices to ``127.0.0.1:upstream_port``.

    Protocols, not streams: once a connection is let in, each chunk that
    arrives is handed to the other side's transport in the callback it
    arrived in (with flow control: a side whose peer cannot keep up stops
    reading), which costs the node's CPU little per request.
    """

    def __init__(self, secret: str, upstream_port: int) -> None:
        self.secret = secret.encode()
        self.upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self.open: set[_Caller] = set()

    async def listen(self, host: str) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Caller(self), host, 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for caller in list(self.open):
            caller.close()


class _Caller(asyncio.Protocol):
    """The router's side of one connection."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.pending = bytearray()
        self.checked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (uvloop's, in Ray's actors, is not an asyncio.Transport subclass).
        self.transport = cast(asyncio.Transport, transport)
        self.gateway.open.add(self)

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
            return
        self.pending += data
        if self.checked:
            return  # let in; the upstream connection is on its way
        end = self.pending.find(b"\r\n\r\n")
        if end < 0:
            if len(self.pending) > _MAX_HEAD:
                self.close()
            return
        given = secret_of(bytes(self.pending[: end + 4]))
        if given is None or not hmac.compare_digest(given, self.gateway.secret):
            assert self.transport is not None
            self.transport.write(_REFUSED)
            self.close()
            return
        self.checked = True
        task = asyncio.get_running_loop().create_task(self._connect())
        _KEEP.add(task)
        task.add_done_callback(_KEEP.discard)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(
                lambda: _Upstream(self), "127.0.0.1", self.gateway.upstream_port
            )
        except OSError:
            self.close()
            return
        if self.transport is None or self.transport.is_closing():
            upstream.close()
            return
        self.upstream = upstream
        upstream.write(bytes(self.pending))
        self.pending.clear()

    def eof_received(self) -> bool:
        if self.upstream is not None and self.upstream.can_write_eof():
            self.upstream.write_eof()
            return True
        return False

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway.open.discard(self)
        if self.upstream is not None:
            self.upstream.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.upstream is not None:
            self.upstream.close()


class _Upstream(asyncio.Protocol):
    """The model server's side of a connection that was let in."""

    def __init__(self, caller: _Caller) -> None:
        self.caller = caller

    def data_received(self, data: bytes) -> None:
        if self.caller.transport is not None:
            self.caller.transport.write(data)

    def pause_writing(self) -> None:
        if self.caller.transport is not None:
            self.caller.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.caller.transport is not None:
            self.caller.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        # The model server closed (or died): so does the router's connection, which
        # the router then sees closed before it sends its next request on it.
        if self.caller.transport is not None:
            self.caller.transport.close()


_KEEP: set[asyncio.Task[None]] = set()
