"""The door of a copy on a Ray node: only callers with the copy's secret get in.

A copy on a Ray node must be reachable from the server's router over the
network, but by no one else. Its model server listens on the node's loopback
interface; the copy's actor (:mod:`moorage.fleet.ray.actor`) runs this
gateway on the node's address. A connection is let through once the first
request on it carries the copy's secret in :data:`SECRET_HEADER` (compared in
constant time); from then on the gateway splices bytes both ways, so
keep-alive requests cost no parsing. A connection whose first request lacks
the secret gets ``403`` and is closed; the model server never sees it.

The router sends the header on every request (``Copy.secret``), so the model
server sees it too; it only opens this one copy, which the model's own code
runs inside anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac

SECRET_HEADER = "x-moorage-copy-secret"
_MAX_HEAD = 64 * 1024
_CHUNK = 256 * 1024
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
    """Accepts on ``host``, checks the secret, splices to ``127.0.0.1:upstream_port``."""

    def __init__(self, secret: str, upstream_port: int) -> None:
        self._secret = secret.encode()
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, host: str) -> int:
        self._server = await asyncio.start_server(self._accept, host, 0, limit=_MAX_HEAD)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        given = secret_of(head)
        if given is None or not hmac.compare_digest(given, self._secret):
            writer.write(_REFUSED)
            with contextlib.suppress(OSError):
                await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        try:
            up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            if sink.can_write_eof():
                sink.write_eof()
