"""The default fleet backend: each copy is a local process.

Starting a copy: fetch and unpack its model data, and for the built-in model
server fetch its code where ``SAGEMAKER_SUBMIT_DIRECTORY`` says (else the
model's ``code/``; passed on as ``MOORAGE_CODE_DIR``) and install that code's
``requirements.txt`` (in a worker thread), resolve its image through the
image map, spawn the command on a free loopback port, and poll ``GET /ping``
until it answers 200 within the startup timeout. What a copy prepared for
itself alone (``CopySpec.use_cache`` false) is deleted once its process is
gone.

Running copies are health-checked as SageMaker checks instances
(:mod:`moorage.fleet.health`): every ``READY`` copy is pinged every few
seconds, and one that fails several pings in a row (a non-200 answer, no
answer in time, a refused connection) becomes ``UNHEALTHY``: the exit
callbacks are told at once, so it is routed away from and replaced exactly
like a copy that crashed, and its process is killed (it no longer serves, so
there is nothing to drain; requests still on it get a broken answer).

A copy of a multi-container model is one such process per container
(:mod:`moorage.fleet.container_set`), started, replaced and stopped together.

Processes never outlive the server: each is started under
``setpriv --pdeathsig KILL`` (the kernel kills it if the server dies, even by
SIGKILL), in its own session (a terminal's Ctrl-C reaches only the server,
which then drains and stops its copies), and the built-in model server also
watches ``MOORAGE_PARENT_PID``. Each copy's stdout and stderr share one pipe,
which :class:`~moorage.logs.collector.LogCollector` reads: every line is
stamped with the time it arrived and appended to the file of the copy's
CloudWatch Logs stream under ``<data-dir>/logs/<endpoint>/``
(:mod:`moorage.logs.layout`), which the Logs API serves. Python model servers
run with ``PYTHONUNBUFFERED`` (unless the model sets it), as SageMaker's
framework containers do, so that what they print arrives when printed and in
order with what they log. The built-in model server also
listens on a Unix socket, ``<data-dir>/run/copy-<digest of the copy id>.sock``,
which the router uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import socket
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from moorage.artifacts.space import os_error_cause
from moorage.clock import Clock
from moorage.domain.model import ModelData
from moorage.file_roots import (
    PROGRAM,
    SUBMIT_DIRECTORY,
    FileRoots,
    OutsideRoots,
    program_problem,
)
from moorage.fleet.base import (
    Copy,
    CopyPlacement,
    CopySpec,
    CopyState,
    ExitCallback,
    StartFailed,
)
from moorage.fleet.container_set import member_gone, start_set, stop_set
from moorage.fleet.drain import RemoteDrain, drain
from moorage.fleet.health import FailedPings, HealthPolicy
from moorage.fleet.health_round import ping_round
from moorage.fleet.images import ImageMap
from moorage.fleet.pinger import Pinger
from moorage.fleet.prepare import PrepareError, Preparer
from moorage.fleet.processes import CopyProcess
from moorage.logs.collector import Attachment, LogCollector
from moorage.logs.layout import LOGS_DIR, stream_path
from moorage.logs.names import copy_stream

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
_LOG_TAIL_BYTES = 2000
# Copies with no process left to stop (or one already being killed).
_GONE = frozenset({CopyState.STOPPED, CopyState.FAILED, CopyState.CRASHED, CopyState.UNHEALTHY})
REGION = "SAGEMAKER_REGION"
_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalProcessFleet:
    def __init__(
        self,
        *,
        data_dir: Path,
        images: ImageMap,
        preparer: Preparer,
        clock: Clock,
        file_roots: FileRoots | None = None,
        health: HealthPolicy | None = None,
    ) -> None:
        self.data_dir = data_dir
        # Checked again at each start: a model stored before the server was
        # given its roots may name loader paths outside them.
        self.file_roots = file_roots or FileRoots()
        self.images = images
        self.preparer = preparer
        self.clock = clock
        # Waits for the requests other processes route to a copy (moorage.fleet.drain).
        self.remote_drain: RemoteDrain | None = None
        self.health = health or HealthPolicy()
        self._pings = FailedPings(self.health)
        # Health pings over one kept-alive connection per copy.
        self._pinger = Pinger()
        self._health_task: asyncio.Task[None] | None = None
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._copies: dict[str, Copy] = {}
        self._callbacks: list[ExitCallback] = []
        self._session: aiohttp.ClientSession | None = None
        self._monitors: set[asyncio.Task[None]] = set()
        # Copy id -> (model directory, site directory, code directory) its
        # process was started with.
        self._prepared: dict[str, tuple[Path, Path | None, Path | None]] = {}
        self._setpriv = shutil.which("setpriv")
        # Stamps and stores every copy's output (moorage.logs).
        self.logs = LogCollector()

    def on_exit(self, callback: ExitCallback) -> None:
        self._callbacks.append(callback)

    def copies(self) -> list[Copy]:
        return list(self._copies.values())

    def processes(self) -> list[CopyProcess]:
        """The ready copies' processes, for the usage sampler (moorage.fleet.processes)."""
        found = []
        for copy in self._copies.values():
            if copy.state is not CopyState.READY or copy.pid is None or copy.ready_at is None:
                continue
            spec = copy.spec
            prepared = self._prepared.get(spec.copy_id)
            found.append(
                CopyProcess(
                    copy_id=spec.copy_id,
                    endpoint=spec.endpoint,
                    variant=spec.variant,
                    component=spec.component,
                    pid=copy.pid,
                    disk_path=str(prepared[0] if prepared else self.data_dir),
                    placement=spec.placement or CopyPlacement(spec.copy_id),
                    inflight=copy.inflight + copy.remote_inflight,
                    started_at=copy.started_at,
                    ready_at=copy.ready_at,
                )
            )
        return found

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True)
            )
        return self._session

    def log_path(self, spec: CopySpec) -> Path:
        """The file of the log stream ``spec``'s output goes to (moorage.logs.layout)."""
        stream = copy_stream(
            spec.endpoint, spec.variant, spec.component, spec.copy_id, spec.log_stream
        )
        return stream_path(self.data_dir / LOGS_DIR, spec.endpoint, spec.component, stream)

    def _what(self, spec: CopySpec) -> str:
        if spec.component:
            return f"A copy of inference component {spec.component}"
        if spec.container:
            return f"Container {spec.container} for production variant {spec.variant}"
        return f"The primary container for production variant {spec.variant}"

    async def start(self, spec: CopySpec) -> Copy:
        if self._health_task is None:
            self._health_task = asyncio.create_task(self._check_health())
        if spec.containers:
            # A multi-container model: a process per container (moorage.fleet.container_set).
            return await start_set(self, spec)
        copy = Copy(spec)
        copy.started_at = self.clock.now()
        resolved = self.images.resolve(spec.image)
        copy.resolved_image = resolved.name
        self._copies[spec.copy_id] = copy
        try:
            self._check_environment(spec)
            model_dir, site, code_dir = await self._prepare(spec, builtin=resolved.builtin)
            self._prepared[spec.copy_id] = (model_dir, site, code_dir)
            log_path = self.log_path(spec)
            log_dir = log_path.parent
            copy.log_path = str(log_path)
            failure_file = self.data_dir / "run" / f"{spec.copy_id}.failure"
            try:
                log_dir.mkdir(parents=True, exist_ok=True)
                failure_file.parent.mkdir(parents=True, exist_ok=True)
                failure_file.unlink(missing_ok=True)
            except OSError as exc:  # a full disk, most likely: say so
                cause = os_error_cause(exc, self.data_dir)
                raise StartFailed(f"{self._what(spec)} could not be started: {cause}") from None
            copy.port = free_port()
            env = self._environment(spec, resolved.env, copy.port, model_dir, site, failure_file)
            if code_dir is not None:
                env["MOORAGE_CODE_DIR"] = str(code_dir)
            if resolved.builtin:
                copy.unix_socket = _socket_path(self.data_dir / "run", spec.copy_id)
                if copy.unix_socket is not None:
                    env["MOORAGE_UNIX_SOCKET"] = copy.unix_socket
            argv = resolved.argv(port=copy.port, model_dir=model_dir)
            if self._setpriv:
                argv = [self._setpriv, "--pdeathsig", "KILL", "--", *argv]
            # One pipe for stdout and stderr keeps the order they were written in.
            read_end, write_end = os.pipe()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=write_end,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    cwd=str(model_dir),
                    start_new_session=True,
                )
            except BaseException as exc:
                os.close(read_end)
                if isinstance(exc, OSError):
                    raise StartFailed(
                        f"{self._what(spec)} could not be started ({argv[0]}): {exc}"
                    ) from None
                raise
            finally:
                os.close(write_end)
            output = self.logs.attach(read_end, log_path)
            copy.pid = proc.pid
            copy.state = CopyState.STARTING
            self._procs[spec.copy_id] = proc
            monitor = asyncio.create_task(self._monitor(copy, proc))
            self._monitors.add(monitor)
            monitor.add_done_callback(self._monitors.discard)
            await self._wait_ready(copy, proc, log_path, failure_file, output)
            copy.state = CopyState.READY
            copy.ready_at = self.clock.now()
            return copy
        except StartFailed as exc:
            copy.state = CopyState.FAILED
            copy.failure_reason = exc.reason
            await self._kill(spec.copy_id)
            self._copies.pop(spec.copy_id, None)
            await self._release(spec.copy_id)
            raise
        except BaseException:
            copy.state = CopyState.FAILED
            await self._kill(spec.copy_id)
            self._copies.pop(spec.copy_id, None)
            await self._release(spec.copy_id)
            raise

    def _check_environment(self, spec: CopySpec) -> None:
        problem = program_problem(spec.environment.get(PROGRAM, ""))
        if problem is not None:
            raise StartFailed(f"{self._what(spec)}: {PROGRAM} {problem}.")
        try:
            self.file_roots.check_environment("Environment", spec.environment)
        except OutsideRoots as exc:
            raise StartFailed(f"{self._what(spec)} was not started: {exc}") from None

    async def _prepare(
        self, spec: CopySpec, *, builtin: bool
    ) -> tuple[Path, Path | None, Path | None]:
        """The model directory, and for the built-in server its code and site directories.

        The code is where ``SAGEMAKER_SUBMIT_DIRECTORY`` says (fetched as the
        framework containers fetch it), else the model's ``code/``; a mapped
        image's command gets the variable as it is and fetches for itself.
        """
        what = "the model data"
        try:
            model_dir = await asyncio.wait_for(
                asyncio.to_thread(
                    self.preparer.model_dir,
                    spec.model_data,
                    timeout_s=spec.download_timeout_s,
                    use_cache=spec.use_cache,
                ),
                timeout=spec.download_timeout_s + 5,
            )
            site = code_dir = None
            if builtin:
                what = f"the code {SUBMIT_DIRECTORY} names"
                try:
                    code_dir = await asyncio.wait_for(
                        asyncio.to_thread(
                            self.preparer.code_dir,
                            spec.environment.get(SUBMIT_DIRECTORY),
                            model_dir,
                            timeout_s=spec.download_timeout_s,
                            use_cache=spec.use_cache,
                        ),
                        timeout=spec.download_timeout_s + 5,
                    )
                    site = await asyncio.to_thread(
                        self.preparer.requirements,
                        model_dir,
                        use_cache=spec.use_cache,
                        code_dir=code_dir,
                    )
                except BaseException:
                    await asyncio.to_thread(self.preparer.release, model_dir, None, code_dir)
                    raise
        except PrepareError as exc:
            raise StartFailed(f"{self._what(spec)} could not be prepared: {exc}") from None
        except TimeoutError:
            raise StartFailed(
                f"{self._what(spec)}: downloading {what} took longer than "
                f"ModelDataDownloadTimeoutInSeconds ({spec.download_timeout_s:g} s)."
            ) from None
        return model_dir, site, code_dir

    def _environment(
        self,
        spec: CopySpec,
        image_env: dict[str, str] | object,
        port: int,
        model_dir: Path,
        site: Path | None,
        failure_file: Path,
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
        if isinstance(image_env, dict):
            env.update(image_env)
        env.update(spec.environment)
        env.update(_region_env(spec.environment))
        env.update(spec.platform_env)
        env.update(
            {
                "SAGEMAKER_BIND_TO_PORT": str(port),
                "SM_MODEL_DIR": str(model_dir),
                "MOORAGE_PARENT_PID": str(os.getpid()),
                "MOORAGE_FAILURE_FILE": str(failure_file),
                "MOORAGE_COPY_ID": spec.copy_id,
            }
        )
        # What a Python server prints reaches its log when printed (docs/logs.md).
        env.setdefault("PYTHONUNBUFFERED", "TRUE")
        if site is not None:
            existing = env.get("PYTHONPATH")
            env["PYTHONPATH"] = f"{site}{os.pathsep}{existing}" if existing else str(site)
        return env

    async def _wait_ready(
        self,
        copy: Copy,
        proc: asyncio.subprocess.Process,
        log_path: Path,
        failure_file: Path,
        output: Attachment,
    ) -> None:
        spec = copy.spec
        deadline = self.clock.now() + spec.startup_timeout_s
        delay = 0.02
        url = f"{copy.url}/ping"
        while True:
            if proc.returncode is not None:
                reason = _read_reason(failure_file) or await _last_output(output)
                raise StartFailed(
                    f"{self._what(spec)} exited with status {proc.returncode} before passing "
                    f"the ping health check: {reason or 'no output'} (log: {log_path})"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                async with self.session().get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return
            if self.clock.now() >= deadline:
                raise StartFailed(
                    f"{self._what(spec)} did not pass the ping health check within "
                    f"ContainerStartupHealthCheckTimeoutInSeconds ({spec.startup_timeout_s:g} s). "
                    f"See its log: {log_path}"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    async def _release(self, copy_id: str) -> None:
        """Delete what the copy prepared for itself alone (once its process is gone)."""
        prepared = self._prepared.pop(copy_id, None)
        if prepared is None:
            return
        try:
            await asyncio.to_thread(self.preparer.release, *prepared)
        except Exception:
            log.exception("removing the prepared files of copy %s failed", copy_id)

    async def _monitor(self, copy: Copy, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        copy.exit_code = code
        if copy.unix_socket is not None:
            # A killed server leaves its socket file behind.
            with contextlib.suppress(OSError):
                os.unlink(copy.unix_socket)
        self._procs.pop(copy.copy_id, None)
        if copy.state == CopyState.READY:
            copy.state = CopyState.CRASHED
            copy.failure_reason = f"exited with status {code}"
            self._copies.pop(copy.copy_id, None)
            log.warning("copy %s exited unexpectedly with status %s", copy.copy_id, code)
            self._gone(copy)
        await self._release(copy.copy_id)

    def _gone(self, copy: Copy) -> None:
        """Tell the exit callbacks that ``copy`` no longer serves."""
        if copy.parent is not None:
            # A container of a multi-container copy: the whole copy is replaced.
            whole = member_gone(copy, self.stop)
            if whole is None:
                return
            copy = whole
        for callback in list(self._callbacks):
            try:
                callback(copy)
            except Exception:
                log.exception("exit callback failed for %s", copy.copy_id)

    # -- health checks ------------------------------------------------------

    async def _check_health(self) -> None:
        """Ping every READY copy each interval, for as long as the fleet runs."""
        while True:
            await self.clock.sleep(self.health.interval_s)
            try:
                await self._ping_all()
            except Exception:
                log.exception("health checks of the copies failed; trying again")

    async def _ping_all(self) -> None:
        await ping_round(
            list(self._copies.values()),
            self._pinger,
            self._pings,
            self.health.timeout_s,
            self._unhealthy,
        )

    def _unhealthy(self, copy: Copy, reason: str) -> None:
        """Replace ``copy`` as if it had crashed, then kill its process."""
        copy.state = CopyState.UNHEALTHY
        copy.failure_reason = reason
        self._copies.pop(copy.copy_id, None)
        log.warning("copy %s is unhealthy and is replaced: %s", copy.copy_id, reason)
        self._gone(copy)
        # Its monitor releases what it prepared once the process is gone.
        killing = asyncio.create_task(self._kill(copy.copy_id))
        self._monitors.add(killing)
        killing.add_done_callback(self._monitors.discard)

    async def stop(self, copy: Copy, *, drain_timeout_s: float = 60.0) -> None:
        if copy.members:
            await stop_set(copy, self.stop, drain_timeout_s, self.clock)
            return
        if copy.state in _GONE:
            self._copies.pop(copy.copy_id, None)
            return
        copy.state = CopyState.STOPPING
        await drain(copy, self.clock, drain_timeout_s, self.remote_drain)
        await self._terminate(copy.copy_id)
        copy.state = CopyState.STOPPED
        self._copies.pop(copy.copy_id, None)
        await self._release(copy.copy_id)

    async def _terminate(self, copy_id: str) -> None:
        proc = self._procs.get(copy_id)
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
        except TimeoutError:
            await self._kill(copy_id)

    async def _kill(self, copy_id: str) -> None:
        proc = self._procs.get(copy_id)
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)

    async def load_adapter(self, copy: Copy, name: str, artifact: ModelData) -> None:
        try:
            adapter_dir = await asyncio.to_thread(
                self.preparer.model_dir, artifact, timeout_s=3600.0, use_cache=True
            )
        except PrepareError as exc:
            raise StartFailed(f"Adapter {name} could not be prepared: {exc}") from None
        url = f"{copy.url}/adapters"
        try:
            async with self.session().post(
                url, json={"name": name, "path": str(adapter_dir)}
            ) as response:
                if response.status >= 300:
                    text = (await response.text())[:500]
                    raise StartFailed(f"Adapter {name} failed to load: {text}")
        except aiohttp.ClientError as exc:
            raise StartFailed(f"Adapter {name} failed to load: {exc}") from None

    async def unload_adapter(self, copy: Copy, name: str) -> None:
        with contextlib.suppress(aiohttp.ClientError):
            async with self.session().delete(f"{copy.url}/adapters/{name}"):
                pass

    async def shutdown(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        self._pinger.close()
        copies = list(self._copies.values())
        await asyncio.gather(
            *(self.stop(c, drain_timeout_s=10.0) for c in copies), return_exceptions=True
        )
        for copy_id in list(self._procs):
            await self._kill(copy_id)
        # The processes are gone: write what their pipes still hold, then stop.
        await asyncio.to_thread(self.logs.close, 2.0)
        if self._session is not None:
            await self._session.close()


def _socket_path(directory: Path, copy_id: str) -> str | None:
    """A Unix socket path for the copy; None where it would be too long.

    The built-in model server also listens there and the router connects
    through it, which costs both less CPU per request than TCP on loopback
    (docs/benchmarks.md). The name is a digest of the copy id: unique, and
    short, because a socket path has at most 107 bytes on Linux (103 on
    macOS); past that the copy is reached by its port alone.
    """
    digest = hashlib.blake2s(copy_id.encode(), digest_size=6).hexdigest()
    path = str(directory / f"copy-{digest}.sock")
    return path if len(os.fsencode(path)) <= 100 else None


def _region_env(environment: Mapping[str, str]) -> dict[str, str]:
    """``AWS_REGION`` / ``AWS_DEFAULT_REGION`` from the model's ``SAGEMAKER_REGION``.

    The SageMaker SDK sets ``SAGEMAKER_REGION`` to the region it deployed in;
    a script's own AWS clients (boto3 in ``model_fn``) should use it, as they
    would in that region's containers, rather than whatever region the
    server's environment names. The model's own AWS_REGION settings win.
    """
    region = environment.get(REGION)
    if not region or any(name in environment for name in _REGION_VARIABLES):
        return {}
    return dict.fromkeys(_REGION_VARIABLES, region)


async def _last_output(output: Attachment, wait_s: float = 2.0) -> str:
    """The end of what a copy that exited printed, once its pipe is drained (or ``wait_s``)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while not output.closed.is_set() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return output.tail(600)


def _read_reason(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()[:_LOG_TAIL_BYTES]
    except OSError:
        return ""
