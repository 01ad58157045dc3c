"""The server process's side of its router processes (``--workers N``).

:class:`RouterPool` starts each router process with the port's listening
socket, its settings and every endpoint's routes, and waits until it says it
is ready. From then on it sends each endpoint whose routes change (it listens
to the :class:`~moorage.runtime.router.Router` the reconciler publishes to),
and reads what the router reports: invocations, turned into metrics as if
the server had answered them, and requests in flight per copy
(``Copy.remote_inflight``).

Draining (:meth:`drain`, the fleets' ``remote_drain``): a copy is out of every
snapshot before it is stopped, and the pool then asks each router to say when
it has no request left on that copy. The question follows the routes on the
same pipe, so the router has stopped choosing the copy by the time it
answers.

A router process that exits is started again (after a second, so a router
that cannot start does not spin); its requests in flight ended with it.
:meth:`stop` closes the routers' input, after which they stop taking
connections, finish their requests and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import tempfile
from pathlib import Path

from moorage.fleet.base import Copy
from moorage.monitoring.sagemaker import InvocationMetrics
from moorage.routers.reports import replay
from moorage.routers.wire import Json, encode_line, endpoint_message, settings_message
from moorage.runtime.router import Router
from moorage.settings import Settings

log = logging.getLogger(__name__)

# A router's lines: one report may carry many invocations.
LINE_LIMIT = 64 * 1024 * 1024
READY_TIMEOUT_S = 60.0
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 40.0
# sockaddr_un's path length, with its terminating zero.
SOCKET_PATH_MAX = 108
# The private folder of a socket whose data-dir path would be too long.
TEMP_PREFIX = "moorage-routers-"


class RouterStartError(Exception):
    """A router process exited or stayed silent before it took connections."""


class _Worker:
    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.ready = asyncio.Event()
        self.inflight: dict[str, int] = {}
        self.drains: dict[int, asyncio.Future[None]] = {}
        self.reader: asyncio.Task[None] | None = None

    def send(self, line: bytes) -> None:
        stdin = self.proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(line)

    def gone(self) -> None:
        for future in self.drains.values():
            if not future.done():
                future.set_result(None)
        self.drains.clear()


class RouterPool:
    def __init__(
        self,
        settings: Settings,
        listener: socket.socket,
        control_socket: str,
        router: Router,
        observer: InvocationMetrics,
        count: int,
    ) -> None:
        self.settings = settings
        self.listener = listener
        self.control_socket = control_socket
        self.router = router
        self.observer = observer
        self.count = count
        self._workers: list[_Worker | None] = [None] * count
        # Copies the routers were told of, by id (for their in-flight reports).
        self._copies: dict[str, Copy] = {}
        self._by_endpoint: dict[str, dict[str, Copy]] = {}
        self._tokens = 0
        self._stopping = False
        self._restarts: set[asyncio.Task[None]] = set()
        router.listen(self._changed)

    async def start(self) -> None:
        """Start every router process; return once all of them take connections."""
        for index in range(self.count):
            await self._spawn(index)
        for worker in self._workers:
            assert worker is not None
            await self._wait_ready(worker)

    async def _wait_ready(self, worker: _Worker) -> None:
        assert worker.reader is not None
        waiting = asyncio.ensure_future(worker.ready.wait())
        done, _ = await asyncio.wait(
            {waiting, worker.reader}, timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        if waiting not in done:
            waiting.cancel()
            raise RouterStartError(
                f"router process {worker.index} did not start (its output is above)"
            )

    async def _spawn(self, index: int) -> _Worker:
        fd = self.listener.fileno()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "moorage.routers.worker",
            "--fd",
            str(fd),
            "--control",
            self.control_socket,
            "--index",
            str(index),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            pass_fds=(fd,),
            # A terminal's Ctrl-C reaches the server only, which stops the routers in order.
            start_new_session=True,
            limit=LINE_LIMIT,
        )
        worker = _Worker(index, proc)
        self._workers[index] = worker
        worker.send(encode_line(settings_message(self.settings)))
        for key in self.router.endpoint_keys():
            worker.send(encode_line(self._message(key)))
        worker.send(encode_line({"t": "synced"}))
        worker.reader = asyncio.create_task(self._read(worker))
        return worker

    def _message(self, key: str) -> Json:
        message, copies = endpoint_message(key, self.router.get(key), self.router.components(key))
        if copies:
            self._by_endpoint[key] = copies
        else:
            self._by_endpoint.pop(key, None)
        self._copies = {i: c for named in self._by_endpoint.values() for i, c in named.items()}
        return message

    def _changed(self, key: str) -> None:
        line = encode_line(self._message(key))
        for worker in self._workers:
            if worker is not None:
                worker.send(line)

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.proc.stdout
        assert stdout is not None
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    self._handle(worker, json.loads(line))
                except Exception:
                    log.exception("router process %d sent a message that failed", worker.index)
        finally:
            worker.gone()
            await worker.proc.wait()
            self._forget_inflight(worker)
            if not self._stopping and self._workers[worker.index] is worker:
                log.warning(
                    "router process %d exited (status %s); starting it again",
                    worker.index,
                    worker.proc.returncode,
                )
                restart = asyncio.create_task(self._restart(worker.index))
                self._restarts.add(restart)
                restart.add_done_callback(self._restarts.discard)

    async def _restart(self, index: int) -> None:
        await asyncio.sleep(RESTART_DELAY_S)
        if self._stopping:
            return
        try:
            await self._spawn(index)
        except OSError:
            log.exception("router process %d could not be started", index)

    def _handle(self, worker: _Worker, message: Json) -> None:
        kind = message.get("t")
        if kind == "report":
            self._report(worker, message)
        elif kind == "drained":
            future = worker.drains.pop(int(message["token"]), None)
            if future is not None and not future.done():
                future.set_result(None)
        elif kind == "ready":
            worker.ready.set()

    def _report(self, worker: _Worker, message: Json) -> None:
        replay(message, self.observer)
        changed: dict[str, int] = message.get("inflight", {})
        for copy_id, count in changed.items():
            before = worker.inflight.get(copy_id, 0)
            if count:
                worker.inflight[copy_id] = count
            else:
                worker.inflight.pop(copy_id, None)
            copy = self._copies.get(copy_id)
            if copy is not None:
                copy.remote_inflight = max(0, copy.remote_inflight + count - before)

    def _forget_inflight(self, worker: _Worker) -> None:
        for copy_id, count in worker.inflight.items():
            copy = self._copies.get(copy_id)
            if copy is not None:
                copy.remote_inflight = max(0, copy.remote_inflight - count)
        worker.inflight.clear()

    async def drain(self, copy: Copy, timeout_s: float) -> None:
        """Return once no router has a request in flight on ``copy``, or after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[None]] = []
        for worker in self._workers:
            if worker is None or worker.proc.returncode is not None:
                continue
            self._tokens += 1
            future: asyncio.Future[None] = loop.create_future()
            worker.drains[self._tokens] = future
            worker.send(encode_line({"t": "drain", "copy": copy.copy_id, "token": self._tokens}))
            waits.append(future)
        if waits:
            await asyncio.wait(waits, timeout=timeout_s)

    async def stop(self) -> None:
        """Close the routers' input and wait for them to finish their requests and exit."""
        self._stopping = True
        for restart in list(self._restarts):
            restart.cancel()
        workers = [w for w in self._workers if w is not None]
        for worker in workers:
            stdin = worker.proc.stdin
            if stdin is not None:
                with contextlib.suppress(OSError):
                    stdin.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()
                await worker.proc.wait()
            if worker.reader is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker.reader
        # Nobody connects to it any more: the socket's path (and the private
        # folder made for it when the data dir's path was too long) goes.
        remove_control_socket(Path(self.control_socket))


def control_socket_path(data_dir: Path) -> Path:
    """Where the server process listens for its routers: in the private data dir.

    A Unix socket path must fit in 108 bytes; under a deeper data dir the
    socket goes to a new private directory of its own instead.
    """
    path = data_dir / "run" / "server.sock"
    if len(str(path).encode()) < SOCKET_PATH_MAX:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX)) / "server.sock"


def remove_control_socket(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
    if path.parent.name.startswith(TEMP_PREFIX):
        with contextlib.suppress(OSError):
            path.parent.rmdir()
