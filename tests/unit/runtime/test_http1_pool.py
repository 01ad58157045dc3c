"""The router's HTTP/1.1 client against scripted servers on a loopback port.

Each server answers every request with the bytes a test gives (or closes,
or stays silent), and records what it received, so framing, reuse and
failures are checked on the wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from moorage.runtime.http1 import Answer, BadAnswer, NoAnswer, NotSent, Pool

Script = Callable[[bytes], bytes | None]  # request head+body → answer bytes (None: close)


class Scripted:
    def __init__(self, script: Script, *, close_after: bool = False) -> None:
        self.script = script
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.script(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def run(
    script: Script,
    test: Callable[[Pool, int, Scripted], Awaitable[None]],
    *,
    close_after: bool = False,
) -> Scripted:
    server = Scripted(script, close_after=close_after)

    async def main() -> None:
        port = await server.start()
        pool = Pool()
        try:
            await test(pool, port, server)
        finally:
            pool.close()
            await server.stop()

    asyncio.run(main())
    return server


def post(pool: Pool, port: int, body: bytes = b"{}", timeout_s: float = 5.0) -> Awaitable[Answer]:
    headers = {"content-type": "application/json", "accept": "*/*"}
    return pool.post("127.0.0.1", port, "/invocations", headers, body, timeout_s)


OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def test_content_length_answer_and_request_on_the_wire() -> None:
    async def test(pool: Pool, port: int, server: Scripted) -> None:
        answer = await post(pool, port, b'{"x": 1}')
        assert (answer.status, answer.body) == (200, b"hello")
        assert answer.headers["content-type"] == "text/plain"

    server = run(lambda _: OK, test)
    request = server.requests[0]
    assert request.startswith(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\ncontent-type: application/json\r\n" in request
    assert b"\r\nContent-Length: 8\r\n\r\n" in request
    assert request.endswith(b'{"x": 1}')


def test_connections_are_reused() -> None:
    async def test(pool: Pool, port: int, server: Scripted) -> None:
        for _ in range(5):
            assert (await post(pool, port)).body == b"hello"

    assert run(lambda _: OK, test).connections == 1


def test_concurrent_requests_open_more_connections_then_reuse_them() -> None:
    async def test(pool: Pool, port: int, server: Scripted) -> None:
        for _ in range(3):
            answers = await asyncio.gather(*(post(pool, port) for _ in range(4)))
            assert [a.status for a in answers] == [200] * 4

    assert run(lambda _: OK, test).connections == 4


def test_chunked_answer() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        assert (await post(pool, port)).body == b"abcde"
        assert (await post(pool, port)).body == b"abcde"

    assert run(lambda _: chunked, test).connections == 1


def test_answer_ended_by_close_and_not_reused() -> None:
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        assert (await post(pool, port)).body == b"until close"
        assert (await post(pool, port)).body == b"until close"

    assert run(lambda _: until_close, test, close_after=True).connections == 2


def test_connection_close_header_is_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        await post(pool, port)
        await post(pool, port)

    assert run(lambda _: closing, test).connections == 2


def test_interim_answer_is_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + OK

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        assert (await post(pool, port)).body == b"hello"

    run(lambda _: answer, test)


def test_error_status_is_an_answer() -> None:
    failing = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom"

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        answer = await post(pool, port)
        assert (answer.status, answer.body) == (500, b"boom")

    run(lambda _: failing, test)


def test_close_before_answer_is_no_answer() -> None:
    async def test(pool: Pool, port: int, server: Scripted) -> None:
        with pytest.raises(NoAnswer):
            await post(pool, port)

    run(lambda _: None, test)


def test_close_in_the_middle_of_the_body_is_no_answer() -> None:
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        with pytest.raises(NoAnswer):
            await post(pool, port)

    run(lambda _: partial, test, close_after=True)


def test_nothing_listening_is_not_sent() -> None:
    async def main() -> None:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        with pytest.raises(NotSent):
            await post(Pool(), port)

    asyncio.run(main())


def test_a_missing_unix_socket_is_not_sent(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(NotSent):
            await Pool().post(
                "127.0.0.1", 1, "/invocations", {}, b"{}", 5.0, str(tmp_path / "gone.sock")
            )

    asyncio.run(main())


def test_a_connection_the_server_closed_while_idle_is_not_used() -> None:
    """The next request goes out on a new connection and is answered."""

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        # A keep-alive answer, then the server closes: the pool kept the connection.
        assert (await post(pool, port)).body == b"hello"
        await asyncio.sleep(0.3)
        assert (await post(pool, port)).body == b"hello"

    assert run(lambda _: OK, test, close_after=True).connections == 2


def test_timeout_then_a_fresh_connection() -> None:
    silent: list[bool] = []

    def script(_: bytes) -> bytes | None:
        if not silent:
            silent.append(True)
            return b""  # answer nothing the first time
        return OK

    async def test(pool: Pool, port: int, server: Scripted) -> None:
        with pytest.raises(TimeoutError):
            await post(pool, port, timeout_s=0.2)
        assert (await post(pool, port)).body == b"hello"

    assert run(script, test).connections == 2


def test_malformed_answer_is_bad_answer() -> None:
    async def test(pool: Pool, port: int, server: Scripted) -> None:
        with pytest.raises(BadAnswer):
            await post(pool, port)

    run(lambda _: b"NOT HTTP AT ALL\r\n\r\n", test)


def test_a_stale_idle_unix_connection_is_replaced_before_the_request_is_lost(
    tmp_path: Path,
) -> None:
    """The server closed an idle connection and the pool has not seen it yet.

    Writing to it fails at once (EPIPE): nothing reached the server, so the
    request goes out on a new connection instead of failing.
    """
    path = str(tmp_path / "copy.sock")
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(OK)  # keep-alive framing, then the server closes anyway
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_unix_server(serve, path)
        pool = Pool()
        try:
            answer = await pool.post("127.0.0.1", 1, "/invocations", {}, b"{}", 5.0, path)
            assert answer.body == b"hello"
            # Let the close reach this socket without letting the loop notice it.
            time.sleep(0.3)
            answer = await pool.post("127.0.0.1", 1, "/invocations", {}, b"{}", 5.0, path)
            assert answer.body == b"hello"
        finally:
            pool.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    assert len(connections) == 2
