"""The door of a copy on a Ray node: the secret lets the router in, nothing else gets through."""

from __future__ import annotations

import asyncio

from moorage.fleet.ray.gateway import SECRET_HEADER, Gateway, secret_of

SECRET = "s3cret-value"


def test_the_secret_is_read_from_the_request_head_in_any_case() -> None:
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nX-Moorage-Copy-Secret:  abc \r\n\r\n"
    assert secret_of(head) == b"abc"
    assert secret_of(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n") is None
    # The request line is not a header.
    assert secret_of(b"GET /x-moorage-copy-secret: a HTTP/1.1\r\n\r\n") is None


async def _upstream() -> tuple[asyncio.Server, int, list[bytes]]:
    """A model server stand-in that answers every request with its own body."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            body = await reader.readexactly(length)
            seen.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def _request(body: bytes, secret: str | None) -> bytes:
    extra = f"{SECRET_HEADER}: {secret}\r\n" if secret is not None else ""
    return (
        f"POST /invocations HTTP/1.1\r\nHost: copy\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _exchange(port: int, *requests: bytes) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for request in requests:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        answers.append(head.split(b"\r\n")[0] + b" " + await reader.readexactly(length))
        if b" 403 " in head:
            break
    writer.close()
    return answers


def test_requests_with_the_secret_reach_the_model_server_others_get_403() -> None:
    async def scenario() -> None:
        upstream, port, seen = await _upstream()
        gateway = Gateway(SECRET, port)
        door = await gateway.listen("127.0.0.1")
        try:
            # Keep-alive: the first request opens the connection, the next ones ride it.
            answers = await _exchange(
                door, _request(b"one", SECRET), _request(b"two", SECRET), _request(b"3", SECRET)
            )
            assert answers == [b"HTTP/1.1 200 OK " + b for b in (b"one", b"two", b"3")]
            for secret in (None, "wrong", SECRET + "x", ""):
                (refused,) = await _exchange(door, _request(b"nope", secret))
                assert refused.startswith(b"HTTP/1.1 403 Forbidden ")
            assert len(seen) == 3
        finally:
            await gateway.close()
            upstream.close()

    asyncio.run(scenario())
