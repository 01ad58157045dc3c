"""One copy on a Ray node: the actor that prepares, runs and guards its model server.

The Ray fleet (:mod:`moorage.fleet.ray.fleet`) creates one :class:`CopyActor`
per copy, as a detached, named Ray actor inside the placement group of the
copy's instance (:mod:`moorage.fleet.ray.instances`), so it runs on the node
Ray chose for that instance. :meth:`CopyActor.start` does on the node what
the local fleet does on the server's machine: it prepares the model
directory (``s3://`` data fetched on the node; local data shipped through the
object store, :mod:`moorage.fleet.ray.shipping`), the code and its
requirements, starts the same model-server command on a free loopback port
(under ``setpriv --pdeathsig KILL``, so it dies with the actor), waits for
``GET /ping``, then opens the copy's :class:`~moorage.fleet.ray.gateway.Gateway`
on the node's address. The process's output is kept in a bounded buffer that
the fleet drains (:meth:`take_output`) into the copy's log stream.

This module imports no Ray: the fleet wraps the class with ``ray.remote``.
Results are plain dicts (:class:`Started` as a dict) so that a failure
reason crosses the cluster as text, not as a pickled exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import stat
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from moorage.domain.model import ModelData
from moorage.fleet.artifact_preparer import ArtifactPreparer
from moorage.fleet.images import ResolvedImage
from moorage.fleet.prepare import PrepareError
from moorage.fleet.ray.gateway import Gateway
from moorage.fleet.ray.shipping import Shipped, unpack

# What the actor keeps of a chatty model server's output between two drains.
MAX_BUFFERED_OUTPUT = 4 * 1024 * 1024
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class NodeStart:
    """What the actor needs to start its copy (built by the fleet, pickled to the node)."""

    copy_id: str
    what: str
    image: ResolvedImage
    # The model's environment, already merged as the local fleet merges it.
    environment: dict[str, str]
    model: Shipped | ModelData | None
    # The code: shipped, an s3:// location fetched on the node, or None (model's code/).
    code: Shipped | str | None
    startup_timeout_s: float
    download_timeout_s: float
    use_cache: bool
    secret: str
    cache_name: str
    identity: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Started:
    host: str
    port: int
    pid: int
    node_id: str
    started_at: float
    ready_at: float


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CopyActor:
    """Runs one copy's model server on the node it was placed on."""

    def __init__(self, identity: dict[str, str]) -> None:
        # Who this copy is (endpoint, component, reattach key...): read back on reattach.
        self.identity = identity
        self.started: Started | None = None
        self.secret = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._gateway: Gateway | None = None
        self._output = bytearray()
        self._dropped = 0
        self._reader: asyncio.Task[None] | None = None
        self._prepared: tuple[ArtifactPreparer, Path, Path | None, Path | None] | None = None

    # -- what the fleet calls ------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Identity, and where the copy serves once started (for reattaching)."""
        running = self._proc is not None and self._proc.returncode is None
        return {
            "identity": self.identity,
            "started": asdict(self.started) if self.started and running else None,
            "secret": self.secret,
        }

    def take_output(self) -> bytes:
        """What the model server printed since the last call."""
        data = bytes(self._output)
        self._output.clear()
        if self._dropped:
            data = f"[{self._dropped} bytes of output were dropped]\n".encode() + data
            self._dropped = 0
        return data

    async def start(self, plan: NodeStart) -> dict[str, Any]:
        """Prepare and start the copy; ``{"started": ...}`` or ``{"error": reason}``."""
        try:
            started = await self._start(plan)
        except _Failed as exc:
            await self._kill()
            return {"error": exc.reason}
        self.started = started
        return {"started": asdict(started)}

    async def exited(self) -> int:
        """Wait until the model server exits; its exit status."""
        if self._proc is None:
            return -1
        code = await self._proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._reader), 2.0)
        return code

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM (the server drains what it still has), then SIGKILL after ``grace_s``."""
        proc = self._proc
        if self._gateway is not None:
            await self._gateway.close()
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                await self._kill()
        await asyncio.to_thread(self._release)

    # -- starting ----------------------------------------------------------

    async def _start(self, plan: NodeStart) -> Started:
        started_at = time.time()
        deadline = time.monotonic() + plan.startup_timeout_s
        cache = _private_dir(Path(tempfile.gettempdir()) / plan.cache_name)
        model_dir, site, code_dir = await self._prepare(plan, cache)
        run = cache / "run"
        run.mkdir(exist_ok=True, mode=0o700)
        failure_file = run / f"{plan.copy_id}.failure"
        failure_file.unlink(missing_ok=True)
        port = _free_port()
        env = _environment(plan, port, model_dir, site, failure_file)
        if code_dir is not None:
            env["MOORAGE_CODE_DIR"] = str(code_dir)
        argv = plan.image.argv(port=port, model_dir=model_dir)
        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=str(model_dir),
                start_new_session=True,
            )
        except OSError as exc:
            raise _Failed(f"{plan.what} could not be started ({argv[0]}): {exc}") from None
        self._reader = asyncio.create_task(self._read(self._proc))
        await self._wait_ready(plan, port, failure_file, deadline)
        self.secret = plan.secret
        host = _node_address()
        self._gateway = Gateway(plan.secret, port)
        gateway_port = await self._gateway.listen(host)
        return Started(
            host=host,
            port=gateway_port,
            pid=self._proc.pid,
            node_id=_node_id(),
            started_at=started_at,
            ready_at=time.time(),
        )

    async def _prepare(self, plan: NodeStart, cache: Path) -> tuple[Path, Path | None, Path | None]:
        import ray

        preparer = ArtifactPreparer(cache / "artifacts")
        timeout = plan.download_timeout_s

        def fetch(shipped: Shipped) -> Any:
            return lambda: ray.get(shipped.refs[0], timeout=timeout)

        def work() -> tuple[Path, Path | None, Path | None]:
            if isinstance(plan.model, Shipped):
                model_dir = unpack(cache, plan.model.key, fetch(plan.model))
            else:
                model_dir = preparer.model_dir(plan.model, timeout_s=timeout, use_cache=True)
            code_dir: Path | None = None
            site: Path | None = None
            if plan.image.builtin:
                if isinstance(plan.code, Shipped):
                    code_dir = unpack(cache, plan.code.key, fetch(plan.code))
                elif plan.code is not None:
                    code_dir = preparer.code_dir(
                        plan.code, model_dir, timeout_s=timeout, use_cache=plan.use_cache
                    )
                site = preparer.requirements(model_dir, use_cache=plan.use_cache, code_dir=code_dir)
            self._prepared = (preparer, model_dir, site, code_dir)
            return model_dir, site, code_dir

        try:
            return await asyncio.wait_for(asyncio.to_thread(work), timeout + 5)
        except PrepareError as exc:
            raise _Failed(f"{plan.what} could not be prepared on its node: {exc}") from None
        except TimeoutError:
            raise _Failed(
                f"{plan.what}: downloading the model data took longer than "
                f"ModelDataDownloadTimeoutInSeconds ({timeout:g} s)."
            ) from None
        except Exception as exc:
            raise _Failed(f"{plan.what} could not be prepared on its node: {exc}") from None

    async def _wait_ready(
        self, plan: NodeStart, port: int, failure_file: Path, deadline: float
    ) -> None:
        proc = self._proc
        assert proc is not None
        delay = 0.02
        while True:
            if proc.returncode is not None:
                if self._reader is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(self._reader), 2.0)
                reason = (
                    _read(failure_file)
                    or bytes(self._output[-600:]).decode("utf-8", "replace").strip()
                )
                raise _Failed(
                    f"{plan.what} exited with status {proc.returncode} before passing "
                    f"the ping health check: {reason or 'no output'}"
                )
            if await _ping(port):
                return
            if time.monotonic() >= deadline:
                raise _Failed(
                    f"{plan.what} did not pass the ping health check within "
                    "ContainerStartupHealthCheckTimeoutInSeconds "
                    f"({plan.startup_timeout_s:g} s)."
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while data := await proc.stdout.read(64 * 1024):
            self._output += data
            excess = len(self._output) - MAX_BUFFERED_OUTPUT
            if excess > 0:
                del self._output[:excess]
                self._dropped += excess

    async def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)

    def _release(self) -> None:
        if self._prepared is None:
            return
        preparer, model_dir, site, code_dir = self._prepared
        self._prepared = None
        with contextlib.suppress(Exception):
            preparer.release(model_dir, site, code_dir)


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _private_dir(path: Path) -> Path:
    """``path``, created 0700 if absent; refused unless it is this user's and private.

    The node's temporary directory is shared by its users: a folder someone
    else made there (or a link to one) must not receive model files.
    """
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise _Failed(f"the node's cache {path} cannot be used: {exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise _Failed(f"the node's cache {path} is not a private folder of this user; remove it")
    return path


def _environment(
    plan: NodeStart, port: int, model_dir: Path, site: Path | None, failure_file: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    env.update(plan.environment)
    env.update(
        {
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SM_MODEL_DIR": str(model_dir),
            "MOORAGE_PARENT_PID": str(os.getpid()),
            "MOORAGE_FAILURE_FILE": str(failure_file),
            "MOORAGE_COPY_ID": plan.copy_id,
        }
    )
    env.setdefault("PYTHONUNBUFFERED", "TRUE")
    if site is not None:
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = f"{site}{os.pathsep}{existing}" if existing else str(site)
    return env


async def _ping(port: int) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 2.0)
        return line.split(b" ")[1:2] == [b"200"]
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()[:2000]
    except OSError:
        return ""


def _node_address() -> str:
    import ray

    util: Any = ray.util
    address: str = util.get_node_ip_address()
    return address


def _node_id() -> str:
    import ray

    node: str = ray.get_runtime_context().get_node_id()
    return node
