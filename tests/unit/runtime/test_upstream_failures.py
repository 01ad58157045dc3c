"""How the router's clients classify a copy's failures: retry elsewhere, or final.

Only a request that never reached the copy (:class:`CopyUnavailable`) may go
to another copy; once it was written, a dropped connection or a broken answer
is :class:`CopyBroken` and final. Scripted servers on loopback play the copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from moorage.fleet.base import Copy, CopySpec
from moorage.runtime.upstream import CopyBroken, CopyUnavailable, Upstream

# What the scripted copy does once it has read a whole request.
Behaviour = Callable[[asyncio.StreamWriter], Awaitable[None]]


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()


async def _half_an_answer(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
    await writer.drain()
    writer.close()


async def _not_http(writer: asyncio.StreamWriter) -> None:
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()


def _copy(port: int) -> Copy:
    copy = Copy(CopySpec("c-1", "e", "v", "image", None))
    copy.port = port
    return copy


def run(behaviour: Behaviour | None, test: Callable[[Upstream, Copy], Awaitable[None]]) -> int:
    """Run ``test`` against a copy that reads each request, then behaves; None: nothing listens.

    Returns how many requests the copy read.
    """
    seen = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        seen += 1
        assert behaviour is not None
        await behaviour(writer)

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        if behaviour is None:
            server.close()
            await server.wait_closed()
        upstream = Upstream()
        try:
            await test(upstream, _copy(port))
        finally:
            await upstream.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    return seen


async def _invoke(upstream: Upstream, copy: Copy) -> None:
    await upstream.invoke(copy, b"{}", {"content-type": "application/json"}, 5.0)


async def _stream(upstream: Upstream, copy: Copy) -> None:
    async with upstream.stream(copy, b"{}", {"content-type": "application/json"}, 5.0) as r:
        await r.read()


@pytest.mark.parametrize("call", [_invoke, _stream], ids=["invoke", "stream"])
def test_a_copy_that_refuses_the_connection_is_unavailable(
    call: Callable[[Upstream, Copy], Awaitable[None]],
) -> None:
    async def test(upstream: Upstream, copy: Copy) -> None:
        with pytest.raises(CopyUnavailable):
            await call(upstream, copy)

    run(None, test)


@pytest.mark.parametrize(
    "behaviour",
    [_close, _half_an_answer, _not_http],
    ids=["closed-after-the-request", "truncated-answer", "not-http"],
)
def test_a_copy_that_took_the_request_and_broke_is_broken_not_unavailable(
    behaviour: Behaviour,
) -> None:
    async def test(upstream: Upstream, copy: Copy) -> None:
        with pytest.raises(CopyBroken):
            await _invoke(upstream, copy)

    assert run(behaviour, test) == 1


def test_a_stream_that_breaks_before_its_answer_is_broken() -> None:
    async def test(upstream: Upstream, copy: Copy) -> None:
        with pytest.raises(CopyBroken):
            await _stream(upstream, copy)

    assert run(_close, test) == 1
