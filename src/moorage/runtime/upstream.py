"""The HTTP clients from the router to model copies.

Invocations go through :class:`~moorage.runtime.http1.Pool`, keep-alive
connections per copy with little CPU per request (this is the hot path),
over the copy's Unix socket when it has one (``Copy.unix_socket``, set by the
local fleet for the built-in model server) and its TCP port otherwise.
Streamed invocations go through one pooled aiohttp session to the port,
whose response object :mod:`moorage.runtime.stream` reads chunk by chunk.
:class:`CopyUnavailable` means the request never reached the copy — it
refused the connection, could not be reached, or closed it before the
request was sent — so the router may send it to another copy. Once the
request has been written the model may have run it, so everything after that
is final: :class:`CopyBroken` (the connection dropped or the answer was
truncated or not HTTP), :class:`CopyTimeout`, or an answer with any status.

Requests carry the forwarded headers, ``Accept: */*`` and ``Content-Type:
application/octet-stream`` when the caller gave none (as aiohttp sends them),
and no ``User-Agent`` or ``Accept-Encoding``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from moorage.fleet.base import Copy
from moorage.fleet.ray.gateway import SECRET_HEADER
from moorage.runtime.http1 import BadAnswer, NoAnswer, NotSent, Pool


class CopyUnavailable(Exception):
    """The request never reached the copy; safe to send to another copy."""


class CopyBroken(Exception):
    """The copy took the request, then gave no whole answer; the model may have run it."""


class CopyTimeout(Exception):
    """The copy did not answer in time."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


_DEFAULTS = {"accept": "*/*", "content-type": "application/octet-stream"}


class Upstream:
    def __init__(self) -> None:
        self._pool = Pool()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=None),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                auto_decompress=False,
            )
        return self._session

    async def invoke(
        self,
        copy: Copy,
        body: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
        path: str = "/invocations",
    ) -> Reply:
        """POST to the copy's ``path``: ``/invocations``, or a multi-model container's
        ``/models/{name}/invoke`` (:mod:`moorage.runtime.hosted`)."""
        if "accept" not in headers or "content-type" not in headers:
            headers = {**_DEFAULTS, **headers}
        if copy.secret is not None:
            # A copy on another machine lets in its router only (moorage.fleet.ray.gateway).
            headers = {**headers, SECRET_HEADER: copy.secret}
        try:
            answer = await self._pool.post(
                copy.host, copy.port, path, headers, body, timeout_s, copy.unix_socket
            )
        except TimeoutError:
            raise CopyTimeout() from None
        except NotSent as exc:
            raise CopyUnavailable(str(exc)) from None
        except (NoAnswer, BadAnswer, OSError) as exc:
            raise CopyBroken(str(exc)) from None
        return Reply(answer.status, answer.headers, answer.body)

    @asynccontextmanager
    async def stream(
        self, copy: Copy, body: bytes, headers: Mapping[str, str], first_byte_timeout_s: float
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a streaming invocation; the caller iterates ``response.content``.

        aiohttp resends a request on a dropped keep-alive connection only for
        idempotent methods, never this POST, so it too is sent at most once.
        """
        if copy.secret is not None:
            headers = {**headers, SECRET_HEADER: copy.secret}
        try:
            response = await asyncio.wait_for(
                self._client().post(f"{copy.url}/invocations", data=body, headers=headers),
                first_byte_timeout_s,
            )
        except TimeoutError:
            raise CopyTimeout() from None
        except aiohttp.ClientConnectorError as exc:
            # Raised while connecting only: nothing was sent.
            raise CopyUnavailable(str(exc)) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise CopyBroken(str(exc) or type(exc).__name__) from None
        try:
            yield response
        finally:
            response.release()

    async def close(self) -> None:
        self._pool.close()
        if self._session is not None:
            await self._session.close()
