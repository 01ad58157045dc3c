"""Health pings over one kept-alive connection per copy.

The fleet pings every ready copy every couple of seconds
(:mod:`moorage.fleet.health`). With a general HTTP client and a new
connection per ping, hundreds of idle copies cost a good part of a core,
both in the server (client machinery, connect, close) and in the copies
(accepting and tearing down a connection per ping). :class:`Pinger` keeps
one connection per copy (its Unix socket when it has one, else TCP), writes
one prebuilt ``GET /ping`` and parses the answer with ``httptools``
(``Content-Length``, chunked, or until close). A connection that fails, times
out or answers something unexpected is closed and the next ping opens a new
one, so a ping never reports on an old connection's state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import cast

import httptools

from moorage.fleet.base import Copy
from moorage.fleet.ray.gateway import SECRET_HEADER

# Longest /ping body kept for a failure message.
_BODY_KEPT = 300


class _Answer(asyncio.Protocol):
    """One connection to a copy; answers one ping at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body = bytearray()
        self.closed = False

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ConnectionError("the copy upgraded the connection"))
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unreadable answer: {exc}"))

    def eof_received(self) -> bool | None:
        # An answer delimited by the end of the connection ends here.
        with contextlib.suppress(httptools.HttpParserError):
            self.parser.feed_data(b"")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("the copy closed the connection"))

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        self.body.clear()

    def on_body(self, body: bytes) -> None:
        if len(self.body) < _BODY_KEPT:
            self.body.extend(body[: _BODY_KEPT - len(self.body)])

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), bytes(self.body)))
        if not self.parser.should_keep_alive():
            self.close()

    # -- use -----------------------------------------------------------------

    def ask(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        waiter = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        self.transport.write(request)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()


class Pinger:
    """``GET /ping`` to copies, each over its own kept-alive connection."""

    def __init__(self) -> None:
        self._connections: dict[str, _Answer] = {}

    async def ping_all(self, copies: Sequence[Copy], timeout_s: float) -> list[str | None]:
        """For each copy, None if it answered 200 within ``timeout_s``; else what went wrong.

        A copy with an open connection costs one write and a future: no
        task, no timer of its own (one wait covers the round).
        """
        asked: list[asyncio.Future[tuple[int, bytes]]] = []
        for copy in copies:
            connection = self._connections.get(copy.copy_id)
            if connection is None or connection.closed:
                asked.append(asyncio.ensure_future(self._connect_and_ask(copy)))
            else:
                asked.append(connection.ask(_request(copy)))
        if asked:
            await asyncio.wait(asked, timeout=timeout_s)
        return [
            self._outcome(copy, answer, timeout_s)
            for copy, answer in zip(copies, asked, strict=True)
        ]

    def _outcome(
        self, copy: Copy, answer: asyncio.Future[tuple[int, bytes]], timeout_s: float
    ) -> str | None:
        if not answer.done():
            answer.cancel()
            self.forget(copy.copy_id)
            return f"/ping did not answer within {timeout_s:g} s"
        if answer.cancelled():
            self.forget(copy.copy_id)
            return "/ping was cancelled"
        exc = answer.exception()
        if exc is not None:
            self.forget(copy.copy_id)
            return f"/ping failed: {exc or type(exc).__name__}"
        status, body = answer.result()
        if status == 200:
            return None
        text = body.decode("utf-8", "replace").strip()
        return f"/ping answered {status}: {text}"

    async def _connect_and_ask(self, copy: Copy) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        if copy.unix_socket is not None:
            _, connection = await loop.create_unix_connection(_Answer, copy.unix_socket)
        else:
            _, connection = await loop.create_connection(_Answer, copy.host, copy.port)
        previous = self._connections.pop(copy.copy_id, None)
        if previous is not None:
            previous.close()
        self._connections[copy.copy_id] = connection
        return await connection.ask(_request(copy))

    def forget(self, copy_id: str) -> None:
        """Close the connection to a copy that failed or is gone."""
        connection = self._connections.pop(copy_id, None)
        if connection is not None:
            connection.close()

    def retain(self, copy_ids: set[str]) -> None:
        """Close the connections of copies no longer pinged."""
        for copy_id in [c for c in self._connections if c not in copy_ids]:
            self.forget(copy_id)

    def close(self) -> None:
        for copy_id in list(self._connections):
            self.forget(copy_id)


def _request(copy: Copy) -> bytes:
    secret = f"{SECRET_HEADER}: {copy.secret}\r\n" if copy.secret else ""
    return f"GET /ping HTTP/1.1\r\nHost: {copy.host}\r\n{secret}\r\n".encode()
