"""A chunk that arrives together with a broken stream is still forwarded."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from moorage.runtime.stream import unread_bytes

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


async def _broken_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(HEAD + b"6\r\nfirst;\r\n")  # no final chunk: the stream breaks
    await writer.drain()
    writer.close()


async def _read_late() -> tuple[BaseException, bytes]:
    server = await asyncio.start_server(_broken_stream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            # The forwarding loop is busy elsewhere while the chunk and the
            # end of the connection both arrive.
            await asyncio.sleep(0.3)
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                await response.content.readany()
            return info.value, unread_bytes(response.content)
    finally:
        server.close()
        await server.wait_closed()


def test_the_chunk_before_the_break_is_recovered() -> None:
    error, leftover = asyncio.run(_read_late())
    assert isinstance(error, aiohttp.ClientPayloadError)
    assert leftover == b"first;"


def test_nothing_unread_is_empty() -> None:
    assert unread_bytes(aiohttp.StreamReader.__new__(aiohttp.StreamReader)) == b""
