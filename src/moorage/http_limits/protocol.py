"""uvicorn's httptools protocol with moorage's limits on each connection.

:func:`limited_protocol` returns the protocol class that
:mod:`moorage.server` gives uvicorn (``uvicorn.Config(http=...)``). It is
:class:`~moorage.coalesce.CoalescingHttpToolsProtocol` (each small response
in one write) plus what uvicorn does not do with httptools:

- **Header size.** httptools buffers a request line and headers of any
  size. Bytes received while a head is incomplete are counted per chunk
  (one addition); past ``max_header_bytes`` the request is answered 431
  and the connection closed. A head that completes in a chunk larger than
  the limit (a head and a body arriving together) is measured exactly
  before it is refused, so large bodies are never mistaken for large heads.
- **Timeouts** (header, body, keep-alive) and the **connection cap** are
  kept by :class:`~moorage.http_limits.connections.Connections`; this class
  says what each connection waits for and closes it when told.

uvicorn's own keep-alive timer still runs (with ``--keep-alive-timeout``);
``data_received`` replaces uvicorn's, with the same handling of malformed
requests and upgrades. See docs/limits.md.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httptools

from moorage.coalesce import CoalescingHttpToolsProtocol
from moorage.http_limits import replies
from moorage.http_limits.admission import Admission, reserve_serves
from moorage.http_limits.connections import (
    WAIT_BODY,
    WAIT_HEAD,
    WAIT_IDLE,
    WAIT_SEND,
    Connections,
    Wait,
)
from moorage.http_limits.limits import HttpLimits

# Which part of the current request the connection is reading.
_HEAD = 0  # its request line and headers (also before the first byte)
_BODY = 1  # its body
_DONE = 2  # nothing: the request is read (its answer may still be on its way)


class _Refused(Exception):
    """Raised in a parser callback to stop the parser; the answer is in ``_refusal``."""


class LimitedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    open_connections: Connections  # set on the class by limited_protocol()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = self.open_connections.limits.max_header_bytes
        self._phase = _HEAD
        # Bytes received on the connection, and before the chunk being parsed.
        self._received = 0
        self._chunk_start = 0
        # Where the current request's head began: the start and the end of that chunk.
        self._head_from = 0
        self._head_chunk_end = 0
        self._admission = Admission.NORMAL
        self._refusal: bytes | None = None

    # -- the connection ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._admission = self.open_connections.admit(self, self.loop)
        if self._admission is Admission.FULL:
            self._answer_and_close(replies.connections_full(len(self.open_connections)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        start = self._received
        self._chunk_start = start
        self._received = start + len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._answer_and_close(self._refusal)
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # Every byte of the chunks after the one where the head began is head.
        if self._phase == _HEAD and self._received - self._head_chunk_end > self._max_head:
            self._answer_and_close(replies.header_too_large(self._max_head))

    # -- parser callbacks ----------------------------------------------------

    def on_message_begin(self) -> None:
        self._phase = _HEAD
        self._head_from = self._chunk_start
        self._head_chunk_end = self._received
        self.open_connections.idle.pop(self, None)
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        # The chunks the head arrived in bound its size; measure only past the limit.
        if self._received - self._head_from > self._max_head and self._head_size() > (
            self._max_head
        ):
            self._refusal = replies.header_too_large(self._max_head)
            raise _Refused()
        if self._admission is Admission.RESERVE:
            self._serve_from_reserve()
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = _DONE
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer when the connection waits for a request.
        if self.timeout_keep_alive_task is not None:
            self.open_connections.idle[self] = None

    # -- what Connections asks -----------------------------------------------

    def watch(self) -> Wait | None:
        if self.transport.is_closing():
            return None
        flow = self.flow
        if flow.write_paused:
            # The answer fills the buffers: it moves only as the client reads.
            return (WAIT_SEND, self.transport.get_write_buffer_size())
        if flow.read_paused:
            # Paused here: the application has not taken a body or a
            # pipelined request yet, so the client is not the one waited for.
            return None
        phase = self._phase
        if phase == _HEAD:
            return (WAIT_HEAD, self._head_from)
        if phase == _BODY:
            return (WAIT_BODY, self._received)
        cycle = self.cycle
        if cycle is None or (cycle.response_complete and not self.pipeline):
            return (WAIT_IDLE, self._head_from)
        return None

    def expire(self, wait: int) -> None:
        cycle = self.cycle
        if wait == WAIT_BODY and cycle is not None and not cycle.response_started:
            # The handler waiting for the body gets a disconnect and its
            # answer, if it writes one, goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
            self.transport.write(replies.body_timeout(self.open_connections.limits.body_timeout_s))
        if wait == WAIT_SEND:
            # close() would wait for the unread answer to be sent first.
            self.transport.abort()
        else:
            self.transport.close()

    # -- helpers ---------------------------------------------------------------

    def _head_size(self) -> int:
        # "METHOD URL HTTP/1.1\r\n", "name: value\r\n" each, "\r\n".
        size = len(self.parser.get_method()) + len(self.url) + 13
        for name, value in self.headers:
            size += len(name) + len(value) + 4
        return size

    def _serve_from_reserve(self) -> None:
        # One request per reserved connection: control calls and health
        # checks run, invocations are refused; either way it then closes.
        if reserve_serves(self.url):
            self.app = self.config.loaded_app
        else:
            limit = self.open_connections.limits.max_connections
            self.app = cast(Any, replies.RefuseInvocation(limit))
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.keep_alive = False

    def _answer_and_close(self, answer: bytes) -> None:
        self._phase = _DONE
        self._refusal = None
        self.open_connections.discard(self)
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


def limited_protocol(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for one server: its connections share one :class:`Connections`."""

    class Protocol(LimitedHttpToolsProtocol):
        open_connections = Connections(limits)

    return Protocol
