"""Health pings over kept-alive connections, against real sockets, on both event loops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest
import uvloop

from moorage.fleet.base import Copy, CopySpec
from moorage.fleet.pinger import Pinger

Answer = Callable[[int], bytes | None]  # the n-th request on a connection → bytes, or silence


class FakeCopy:
    """A listening socket that answers ``GET /ping`` as ``answer`` says; counts connections."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                reply = self.answer(served)
                served += 1
                if reply is None:
                    await asyncio.sleep(3600)
                writer.write(reply or b"")
                await writer.drain()
                if b"connection: close" in (reply or b"").lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def copy_at(port: int = 0, unix: str | None = None, secret: str | None = None) -> Copy:
    # The pinger reads only the spec's copy id.
    copy = Copy(cast(CopySpec, _Spec("c1")))
    copy.port = port
    copy.unix_socket = unix
    copy.secret = secret
    return copy


class _Spec:
    def __init__(self, copy_id: str) -> None:
        self.copy_id = copy_id


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def run(scenario: Callable[[], Awaitable[None]], loop: str) -> None:
    if loop == "uvloop":
        uvloop.run(scenario())
    else:
        asyncio.run(scenario())


LOOPS = ["asyncio", "uvloop"]


@pytest.mark.parametrize("loop", LOOPS)
def test_pings_reuse_one_connection_and_send_the_secret(loop: str) -> None:
    async def scenario() -> None:
        fake = FakeCopy(lambda n: OK)
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        copy = copy_at(server.sockets[0].getsockname()[1], secret="s3cret")
        pinger = Pinger()
        for _ in range(5):
            assert await pinger.ping_all([copy], 2.0) == [None]
        assert fake.connections == 1
        assert all(b"x-moorage-copy-secret: s3cret" in r for r in fake.requests)
        pinger.close()
        server.close()

    run(scenario, loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_unix_socket_chunked_and_failing_answers(loop: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        answers = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 9\r\n\r\nnot ready",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            OK,
        ]
        fake = FakeCopy(lambda n: answers[min(n, len(answers) - 1)])
        path = str(tmp_path / "copy.sock")
        server = await asyncio.start_unix_server(fake.handle, path)
        copy = copy_at(unix=path)
        pinger = Pinger()
        assert await pinger.ping_all([copy], 2.0) == [None]
        assert await pinger.ping_all([copy], 2.0) == ["/ping answered 500: not ready"]
        assert await pinger.ping_all([copy], 2.0) == [None]  # then the copy closes
        assert await pinger.ping_all([copy], 2.0) == [None]  # on a new connection
        assert fake.connections == 2
        pinger.close()
        server.close()

    run(scenario, loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_silence_and_refusal_fail_and_the_next_ping_reconnects(loop: str) -> None:
    async def scenario() -> None:
        silent = {"on": True}
        fake = FakeCopy(lambda n: None if silent["on"] else OK)
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        copy = copy_at(port)
        pinger = Pinger()
        assert await pinger.ping_all([copy], 0.2) == ["/ping did not answer within 0.2 s"]
        silent["on"] = False
        assert await pinger.ping_all([copy], 2.0) == [None]
        assert fake.connections == 2
        server.close()
        await server.wait_closed()
        pinger.close()
        refused = await pinger.ping_all([copy_at(port)], 2.0)
        assert refused[0] is not None and refused[0].startswith("/ping failed:")

    run(scenario, loop)
