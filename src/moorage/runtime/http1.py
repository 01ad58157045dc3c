"""A lean HTTP/1.1 client for invocations: keep-alive connections per copy.

:class:`~moorage.runtime.upstream.Upstream` sends every non-streaming
invocation through :class:`Pool`. It speaks only what that needs — one POST
with a whole body, one whole answer back — on an asyncio protocol with
httptools (the parser uvicorn uses) reading the answer, which costs a small
fraction of a general-purpose client's CPU per request (docs/benchmarks.md).
Answers may be framed by Content-Length, chunked, or by closing the
connection. A copy that also listens on a Unix socket is reached through it.

Failures say whether the server may have seen the request: :class:`NotSent`
(no connection could be opened, or the one at hand was already closing) means
it cannot have, so the caller may send the request elsewhere; once the request
has been written, a dropped connection or a truncated answer is
:class:`NoAnswer` and a malformed one :class:`BadAnswer`: the server may have
acted on the request, so it must not be sent again.

Connections are reused last-in first-out, so a light load keeps few of them
warm; one idle for :data:`IDLE_S` is closed rather than reused, because the
server may be closing it at that moment. A connection the server closes while
idle leaves the pool at once. The number of connections per address is not
capped: concurrency is bounded by the callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final, cast

import httptools

# Below the model server's 75 s keep-alive: never reuse what it may be closing.
IDLE_S: Final = 30.0
# Bodies up to this size go out in one write together with the request head.
_JOIN_LIMIT = 64 * 1024
_HEADS_KEPT = 256


class NotSent(Exception):
    """The request never left: no connection, or the connection was closing before it."""


class NoAnswer(Exception):
    """After the request was written, the connection closed before the whole answer arrived."""


class BadAnswer(Exception):
    """The server's answer is not valid HTTP/1.1."""


class Answer:
    """Status, headers (names lower-cased, first value of each) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    def __init__(self, pool: Pool, key: str) -> None:
        self._pool = pool
        self._key = key
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Answer] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._headers_done = False
        self._until_close = False
        self._keep_alive = False
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadAnswer(f"invalid HTTP answer: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self._key, self)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and self._until_close:
            # No Content-Length and not chunked: the close ends the body.
            self._complete()
            return
        reason = f": {exc}" if exc else ""
        self._fail(NoAnswer(f"the connection closed before the whole answer arrived{reason}"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        # Asked now: the parser forgets it once the message is complete.
        self._keep_alive = self._parser.should_keep_alive()
        headers = self._headers
        self._until_close = "content-length" not in headers and "transfer-encoding" not in headers

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._parser.get_status_code() < 200:
            # An interim answer (100 Continue): the real one follows.
            self._reset()
            return
        self._complete()

    # the request

    def send(self, head: bytes, body: bytes) -> asyncio.Future[Answer]:
        transport = self._transport
        if transport is None or self.closed or transport.is_closing():
            # Written now, the request would vanish (or raise, on uvloop) unanswered.
            raise NotSent("the connection closed before the request was sent")
        self._reset()
        try:
            if len(body) <= _JOIN_LIMIT:
                transport.write(head + body)
            else:
                transport.write(head)
                transport.write(body)
        except (OSError, RuntimeError) as exc:
            raise NotSent(f"the request could not be written: {exc}") from None
        if transport.is_closing():
            # The write failed at once (EPIPE: the server had already closed its
            # end), so the request did not reach it whole: it cannot have run.
            raise NotSent("the connection closed while the request was being written")
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        return waiter

    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    def usable(self) -> bool:
        """Open, and not being closed (a close may still be on its way to connection_lost)."""
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _reset(self) -> None:
        self._headers = {}
        self._body = []
        self._headers_done = False
        self._until_close = False
        self._keep_alive = False

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            waiter.set_result(Answer(self._parser.get_status_code(), self._headers, body))

    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


def _expire(waiter: asyncio.Future[Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Pool:
    """Idle keep-alive connections by ``host:port`` or Unix socket path."""

    def __init__(self) -> None:
        self._idle: dict[str, list[_Connection]] = {}
        self._heads: dict[tuple[object, ...], bytes] = {}

    async def post(
        self,
        host: str,
        port: int,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
        unix_socket: str | None = None,
    ) -> Answer:
        """POST ``body`` to ``host:port``, through ``unix_socket`` when given.

        Raises :class:`NotSent` (safe to send elsewhere), :class:`NoAnswer`,
        :class:`BadAnswer` or ``TimeoutError``.
        """
        loop = asyncio.get_running_loop()
        authority = f"{host}:{port}"
        key = unix_socket or authority
        head = self._head(path, authority, headers) + b"Content-Length: %d\r\n\r\n" % len(body)
        now = loop.time()
        deadline = now + timeout_s
        conn = self._take(key, now)
        waiter: asyncio.Future[Answer] | None = None
        if conn is not None:
            try:
                waiter = conn.send(head, body)
            except NotSent:
                # The server closed this idle connection (its close not seen yet):
                # the request may go out on a new one.
                conn = None
        if conn is None:
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(key, host, port, unix_socket)
            waiter = conn.send(head, body)
        assert waiter is not None
        # A bare timer: cheaper than asyncio.timeout() on every request.
        timer = loop.call_at(deadline, _expire, waiter)
        done = False
        try:
            answer = await waiter
            done = True
        finally:
            timer.cancel()
            if done and conn.reusable():
                self._give(key, conn, loop.time())
            else:
                conn.close()
        return answer

    def _head(self, path: str, authority: str, headers: Mapping[str, str]) -> bytes:
        """Request line and headers; callers send few distinct sets, so they are kept."""
        key: tuple[object, ...] = (path, authority, *headers.items())
        head = self._heads.get(key)
        if head is None:
            lines = [f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n"]
            lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
            head = "".join(lines).encode("latin-1")
            if len(self._heads) >= _HEADS_KEPT:
                self._heads.clear()
            self._heads[key] = head
        return head

    async def _connect(
        self, key: str, host: str, port: int, unix_socket: str | None
    ) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            if unix_socket is not None:
                _, conn = await loop.create_unix_connection(
                    lambda: _Connection(self, key), unix_socket
                )
            else:
                _, conn = await loop.create_connection(lambda: _Connection(self, key), host, port)
        except OSError as exc:
            raise NotSent(f"could not connect to {key}: {exc}") from None
        return conn

    def _take(self, key: str, now: float) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if now - conn.idle_since < IDLE_S and conn.usable():
                return conn
            conn.close()
        return None

    def _give(self, key: str, conn: _Connection, now: float) -> None:
        conn.idle_since = now
        idle = self._idle.get(key)
        if idle is None:
            self._idle[key] = [conn]
        else:
            idle.append(conn)

    def forget(self, key: str, conn: _Connection) -> None:
        """Drop a connection the server closed while it sat idle."""
        idle = self._idle.get(key)
        if idle is None:
            return
        if conn in idle:
            idle.remove(conn)
        if not idle:
            del self._idle[key]

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in list(idle):
                conn.close()
        self._idle.clear()
