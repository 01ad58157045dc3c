"""The router process's way to the server process: the request as it came.

A request a router process does not serve itself goes to the server
process's private Unix socket with its method, path (as sent, so its
signature still matches), query, headers and whole body; the server checks
it as it checks every request on the port and answers it, and the answer is
passed back to the caller as it arrives (streamed answers and the dashboard's
event streams included). Only the connection's own headers are dropped on
both ways. If the server process cannot be reached, the caller gets a 503 in
the protocol it spoke.
"""

from __future__ import annotations

import contextlib
import logging

import aiohttp
from yarl import URL

from moorage.api.gate import refuse, wire_of
from moorage.api.http import BodyTooLarge, ClientDisconnected, Receive, Scope, Send, read_body

log = logging.getLogger(__name__)

# Headers of one connection, not of the request or answer (RFC 9110 §7.6.1);
# Content-Length is set again for the body sent, Expect was answered already,
# and each process sends its own Server and Date.
_REQUEST_DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"upgrade",
        b"expect",
        b"proxy-connection",
        b"trailer",
    }
)
_ANSWER_DROPPED = frozenset(
    {
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"upgrade",
        b"proxy-connection",
        b"trailer",
        b"server",
        b"date",
    }
)


class Handoff:
    def __init__(self, socket_path: str, max_body: int) -> None:
        self.socket_path = socket_path
        self.max_body = max_body
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path, limit=0),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand over a request whose body is still to be read."""
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            await refuse(
                send,
                wire_of(scope),
                "RequestEntityTooLargeException",
                f"Request body exceeds the limit of {exc.limit} bytes.",
                status=413,
                close=True,
            )
            return
        except ClientDisconnected:
            return
        await self(scope, body, send)

    async def __call__(self, scope: Scope, body: bytes, send: Send) -> None:
        """Send the request to the server process and its answer to the caller."""
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.lower() not in _REQUEST_DROPPED
        ]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope["query_string"]
        target = raw_path + (b"?" + query if query else b"")
        url = URL("http://moorage" + target.decode("latin-1"), encoded=True)
        started = False
        try:
            async with self._client().request(
                scope["method"],
                url,
                headers=headers,
                data=body if body or scope["method"] not in ("GET", "HEAD") else None,
                allow_redirects=False,
            ) as answer:
                out = [
                    (name, value)
                    for name, value in answer.raw_headers
                    if name.lower() not in _ANSWER_DROPPED
                ]
                await send({"type": "http.response.start", "status": answer.status, "headers": out})
                started = True
                async for chunk in answer.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (aiohttp.ClientError, OSError) as exc:
            if started:
                # The answer broke off midway: the caller's connection ends with it.
                log.warning("the server process's answer broke off: %s", exc)
                return
            log.warning("the server process could not be reached: %s", exc)
            await refuse(
                send,
                wire_of(scope),
                "ServiceUnavailable",
                "The server is not answering; try again shortly.",
                status=503,
            )

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
