"""The model server process from start to exit: bind, serve, load, drain, exit status.

``python -m moorage.container`` lands in :func:`main`. It parses the options
(:mod:`moorage.container.options`), starts orphan protection
(:mod:`moorage.container.lifecycle`), binds the port itself (so a busy port is
a clear exit status, and ``--port 0`` can report the port it got) and, when
``MOORAGE_UNIX_SOCKET`` names one, a Unix socket the router reaches it by
(cheaper than TCP on loopback, docs/benchmarks.md), then runs
uvicorn (uvloop, httptools sending each response in one write
(:mod:`moorage.coalesce`), no access log) around
:class:`~moorage.container.app.ModelServerApp` while the model loads in the
handler pool (:func:`moorage.container.model.load`; in multi-model mode no
model loads at start, :mod:`moorage.container.multi_model`) and a task watches that
pool for workers stuck past ``SAGEMAKER_MODEL_SERVER_TIMEOUT``
(:mod:`moorage.container.workers`).

Signals: SIGTERM or SIGINT stop accepting connections, let in-flight
requests finish for up to the shutdown grace period, and exit 0; a second
SIGINT stops waiting. uvicorn's own signal handling is replaced because it
re-raises the signal after shutting down, which would turn a clean drain into
"killed by SIGTERM".

Every failure ends with one paragraph in ``MOORAGE_FAILURE_FILE`` (when set),
the reason and any traceback on stderr, and an :class:`ExitCode`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn

from moorage.coalesce import CoalescingHttpToolsProtocol
from moorage.container.app import ModelServerApp
from moorage.container.errors import ExitCode, StartupError
from moorage.container.http import log_exception
from moorage.container.lifecycle import guard_parent, write_failure
from moorage.container.model import ModelSettings, load
from moorage.container.multi_model import CodeSettings, MultiModels
from moorage.container.options import Options, failure_file, parse
from moorage.container.workers import Workers

# Longer than the router's 30 s limit on idle pooled connections, so the
# server never closes one just as the router reuses it.
KEEP_ALIVE_S = 75
# How long a clean exit may wait for the handler threads and the interpreter.
_EXIT_WAIT_S = 2.0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        options = parse(argv, os.environ)
    except StartupError as exc:
        return report(exc, failure_file(os.environ))
    try:
        if options.parent_pid is not None:
            guard_parent(options.parent_pid)
        sockets = [bind(options.host, options.port)]
        if options.unix_socket is not None:
            sockets.append(bind_unix(options.unix_socket))
        return serve(options, sockets)
    except StartupError as exc:
        return report(exc, options.failure_file)
    except Exception as exc:
        failure = StartupError(
            ExitCode.INTERNAL, f"The model server failed: {type(exc).__name__}: {exc}"
        )
        failure.__cause__ = exc
        return report(failure, options.failure_file)


def report(exc: StartupError, failure_path: Path | None) -> int:
    """Tell the parent and the log why the process is ending; return its exit status."""
    headline = f"moorage model server: {exc.reason}"
    if exc.__cause__ is not None:
        log_exception(exc.__cause__, headline)
    else:
        sys.stderr.write(headline + "\n")
        sys.stderr.flush()
    write_failure(failure_path, exc.reason)
    return int(exc.code)


def configure_logging(level: int) -> None:
    """Python logging at ``SAGEMAKER_CONTAINER_LOG_LEVEL``, to stderr (the copy's log).

    As in the framework containers, what the inference script logs at that
    level or above reaches the log without the script configuring anything.
    uvicorn's own loggers keep their level: the server reports what matters
    (failures, stuck workers) itself, and logs no line per request.
    """
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(ExitCode.LISTEN, f"Cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise StartupError(ExitCode.LISTEN, f"Cannot listen on {host}:{port}: {why}.") from None
    return sock


def bind_unix(path: Path) -> socket.socket:
    """A listening Unix socket at ``path`` (a leftover file of a killed server is replaced)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        path.unlink(missing_ok=True)
        sock.bind(str(path))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise StartupError(ExitCode.LISTEN, f"Cannot listen on {path}: {why}.") from None
    return sock


def serve(options: Options, sockets: list[socket.socket]) -> int:
    """Serve on ``sockets``; the first is the TCP one reported on stdout."""
    configure_logging(options.log_level)
    executor = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="handler")
    workers = Workers(executor, options.workers, options.timeout_s)
    multi = (
        MultiModels(
            executor,
            CodeSettings(options.program, options.default_accept, options.code_dir),
        )
        if options.multi_model
        else None
    )
    app = ModelServerApp(workers, multi)
    address = sockets[0].getsockname()
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    config = uvicorn.Config(
        app,
        loop="none",
        http=CoalescingHttpToolsProtocol,
        ws="none",
        lifespan="off",
        interface="asgi3",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=math.ceil(options.shutdown_grace_s),
    )
    server = _Server(
        config,
        on_started=lambda: print(
            f"moorage model server listening on http://{host}:{address[1]}", flush=True
        ),
    )
    settings = ModelSettings(
        options.model_dir, options.program, options.default_accept, options.code_dir
    )
    outcome: list[StartupError] = []
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_run(server, sockets, app, settings, executor, outcome))
    if options.unix_socket is not None:
        options.unix_socket.unlink(missing_ok=True)
    code = report(outcome[0], options.failure_file) if outcome else int(ExitCode.OK)
    _exit_promptly(executor, code)
    return code


async def _run(
    server: _Server,
    sockets: list[socket.socket],
    app: ModelServerApp,
    settings: ModelSettings,
    executor: ThreadPoolExecutor,
    outcome: list[StartupError],
) -> None:
    # In multi-model mode the platform loads the models later, through /models.
    loading = (
        None
        if app.multi is not None
        else asyncio.create_task(_load(server, app, settings, executor, outcome))
    )
    watching = asyncio.create_task(app.workers.watch())
    try:
        await server.serve(sockets=sockets)
    finally:
        # A stop during model_fn: the thread cannot be interrupted, only abandoned.
        if loading is not None:
            loading.cancel()
        watching.cancel()


async def _load(
    server: _Server,
    app: ModelServerApp,
    settings: ModelSettings,
    executor: ThreadPoolExecutor,
    outcome: list[StartupError],
) -> None:
    try:
        app.model = await asyncio.get_running_loop().run_in_executor(executor, load, settings)
    except StartupError as exc:
        outcome.append(exc)
        server.exit_soon()
    except Exception as exc:
        failure = StartupError(
            ExitCode.INTERNAL, f"Loading the model failed: {type(exc).__name__}: {exc}"
        )
        failure.__cause__ = exc
        outcome.append(failure)
        server.exit_soon()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()

    async def main_loop(self) -> None:
        """Wait for the exit.

        uvicorn's own loop wakes ten times a second to look at ``should_exit``
        and to refresh the ``Date`` header; hundreds of idle copies would
        spend a good part of a core on that. The model server sends no
        ``Date`` (the router answers callers, with its own), so this loop
        sleeps until :meth:`exit_soon` wakes it.
        """
        self._wake = asyncio.Event()
        await self.on_tick(0)
        while not self.should_exit:
            await self._wake.wait()
            self._wake.clear()

    def exit_soon(self) -> None:
        """Begin the shutdown now (from the event loop's thread)."""
        self.should_exit = True
        wake = getattr(self, "_wake", None)
        if wake is not None:
            wake.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        # Through the loop, so that a signal wakes a loop that sleeps.
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT)
        for sig in handled:
            loop.add_signal_handler(sig, self._stop, sig)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def _stop(self, sig: int) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.exit_soon()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # not built for this platform: the default loop works too
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _exit_promptly(executor: ThreadPoolExecutor, code: int) -> None:
    """Exit now if a handler is still running; otherwise bound the normal interpreter exit.

    A handler still running after the grace period (or a ``model_fn`` cut short
    by SIGTERM) cannot be interrupted, and a thread the script started may never
    end; neither may keep a stopped server alive.
    """
    drained = threading.Thread(target=executor.shutdown, kwargs={"cancel_futures": True})
    drained.daemon = True
    drained.start()
    drained.join(0.5)
    sys.stdout.flush()
    sys.stderr.flush()
    if drained.is_alive():
        os._exit(code)

    def watchdog() -> None:
        time.sleep(_EXIT_WAIT_S)
        os._exit(code)

    threading.Thread(target=watchdog, name="exit-watchdog", daemon=True).start()
