"""The HTTP client from the router to model copies.

One pooled keep-alive client for every copy. :class:`CopyUnavailable` means
the request never got an answer from the copy — it could not connect, or the
connection dropped before any response byte — so the router may send it to
another copy; anything else (an answer with any status, a timeout) is final.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from moorage.fleet.base import Copy


class CopyUnavailable(Exception):
    """No answer came from the copy; safe to retry elsewhere."""


class CopyTimeout(Exception):
    """The copy did not answer in time."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Upstream:
    def __init__(self) -> None:
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
        self, copy: Copy, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> Reply:
        try:
            async with self._client().post(
                f"{copy.url}/invocations",
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                data = await response.read()
                return Reply(response.status, response.headers, data)
        except TimeoutError:
            raise CopyTimeout() from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise CopyUnavailable(str(exc)) from None

    @asynccontextmanager
    async def stream(
        self, copy: Copy, body: bytes, headers: Mapping[str, str], first_byte_timeout_s: float
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a streaming invocation; the caller iterates ``response.content``."""
        try:
            response = await asyncio.wait_for(
                self._client().post(f"{copy.url}/invocations", data=body, headers=headers),
                first_byte_timeout_s,
            )
        except TimeoutError:
            raise CopyTimeout() from None
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise CopyUnavailable(str(exc)) from None
        try:
            yield response
        finally:
            response.release()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
