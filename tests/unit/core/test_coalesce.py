"""One write per response: the transport wrapper, and uvicorn serving through it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

from moorage.coalesce import CoalescingHttpToolsProtocol, CoalescingTransport


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n"


def wrap() -> tuple[Recording, CoalescingTransport]:
    inner = Recording()
    return inner, CoalescingTransport(inner)  # type: ignore[arg-type]


def test_head_and_body_leave_in_one_write() -> None:
    inner, outer = wrap()
    outer.write(HEAD)
    assert inner.writes == []
    outer.write(b"hello")
    assert inner.writes == [HEAD + b"hello"]
    outer.write(HEAD)
    outer.write(b"again")
    assert inner.writes == [HEAD + b"hello", HEAD + b"again"]


def test_chunked_head_and_interim_answers_are_not_held() -> None:
    inner, outer = wrap()
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    outer.write(chunked)
    outer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert inner.writes == [chunked, b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_held_head_leaves_on_flush_and_close() -> None:
    inner, outer = wrap()
    outer.write(HEAD)
    outer.flush()
    assert inner.writes == [HEAD]
    outer.write(HEAD)
    outer.close()
    assert inner.writes == [HEAD, HEAD]
    assert inner.closed


def test_other_attributes_reach_the_transport() -> None:
    inner, outer = wrap()
    assert outer.is_closing() is False
    outer.write(HEAD)
    assert outer.get_write_buffer_size() == len(HEAD)
    inner.closed = True
    assert outer.is_closing() is True


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one", b"two"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b"hello"
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _exchange(port: int, requests: list[bytes], expect: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    for request, end in zip(requests, expect, strict=True):
        writer.write(request)
        while not received.endswith(end):
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk, received
            received += chunk
    writer.close()
    return received


def test_uvicorn_serves_whole_head_and_streamed_answers() -> None:
    async def main() -> bytes:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            _app, http=CoalescingHttpToolsProtocol, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            return await _exchange(
                port,
                [
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                ],
                [b"hello", b"content-length: 5\r\n\r\n", b"0\r\n\r\n", b"hello"],
            )
        finally:
            server.should_exit = True
            await task

    received = asyncio.run(main())
    assert received.count(b"HTTP/1.1 200 OK") == 4
    assert b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n" in received
