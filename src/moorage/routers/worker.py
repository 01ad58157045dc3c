"""A router process: ``python -m moorage.routers.worker --fd N --control PATH``.

Started by :class:`moorage.routers.pool.RouterPool` with the port's
listening socket as descriptor ``N``. It reads its settings and every
endpoint's routes from standard input, serves the port once it has them
all (saying ``ready``), and then keeps reading: routes as they change, and
drain questions, each answered once no request it routed is left on that
copy. Every :data:`~moorage.routers.reports.FLUSH_S` it reports its
invocations and requests in flight on standard output. When its input
closes (the server stops, or died) it stops taking connections, finishes
its requests and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys

import uvicorn

from moorage.port import build_gate, uvicorn_config
from moorage.routers.app import RouterApp
from moorage.routers.handoff import Handoff
from moorage.routers.reports import FLUSH_S, Reports
from moorage.routers.wire import Json, RouteBook, encode_line, settings_from
from moorage.runtime.invoke import Invoker
from moorage.runtime.router import Router
from moorage.runtime.upstream import Upstream

log = logging.getLogger("moorage.routers")

LINE_LIMIT = 64 * 1024 * 1024
DRAIN_POLL_S = 0.01


class Worker:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.book = RouteBook()
        self.router = Router()
        self.reports = Reports(lambda: self.book.copies)
        self.server: uvicorn.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def apply(self, message: Json) -> None:
        kind = message.get("t")
        if kind == "endpoint":
            key: str = message["key"]
            route, table = self.book.apply(message)
            # One loop slice: requests see the old routes or the new, never a mix.
            self.router.withdraw(key)
            if route is not None:
                self.router.publish(route)
                if table is not None:
                    self.router.publish_components(key, table)
        elif kind == "drain":
            task = asyncio.create_task(self._drain(str(message["copy"]), int(message["token"])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, copy_id: str, token: int) -> None:
        copy = self.book.copies.get(copy_id)
        while copy is not None and copy.inflight > 0:
            await asyncio.sleep(DRAIN_POLL_S)
        self.say({"t": "drained", "token": token})

    def say(self, message: Json) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_line(message))

    async def feed(self) -> None:
        """Apply what the server sends until its end of the pipe closes, then stop serving."""
        while True:
            line = await self.reader.readline()
            if not line:
                break
            self.apply(json.loads(line))
        if self.server is not None:
            self.server.should_exit = True

    async def report(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            self.flush()

    def flush(self) -> None:
        message = self.reports.take_report()
        if message is not None:
            self.say(message)


async def _pipes() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # The pipe to the server carries reports only: what else would go to
    # standard output (uvicorn's access lines) goes to standard error instead.
    reports = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, reports)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


async def run(fd: int, control: str) -> None:
    reader, writer = await _pipes()
    first = await reader.readline()
    if not first:
        return
    settings = settings_from(json.loads(first))
    worker = Worker(reader, writer)
    while True:
        line = await reader.readline()
        if not line:
            return
        message = json.loads(line)
        if message.get("t") == "synced":
            break
        worker.apply(message)
    upstream = Upstream()
    invoker = Invoker(
        worker.router,
        upstream,
        account_id=settings.account_id,
        region=settings.region,
        observer=worker.reports,
    )
    handoff = Handoff(control, settings.max_api_body_bytes)
    invoker.handoff = handoff
    invoker.async_invocations = handoff.asgi
    app = RouterApp(build_gate(settings), invoker, handoff)
    server = worker.server = uvicorn.Server(uvicorn_config(app, settings))
    listener = socket.socket(fileno=fd)
    # uvicorn re-raises the signal that stopped it; this lets the final report go out.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    feeding = asyncio.create_task(worker.feed())
    reporting = asyncio.create_task(worker.report())
    if server.started:
        worker.say({"t": "ready"})
    try:
        await serving
    finally:
        reporting.cancel()
        feeding.cancel()
        worker.flush()
        with contextlib.suppress(Exception):
            await writer.drain()
        await handoff.close()
        await upstream.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="moorage.routers.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format=f"router {args.index}: %(levelname)s %(name)s: %(message)s"
    )
    import uvloop

    uvloop.run(run(args.fd, args.control))


if __name__ == "__main__":
    main()
