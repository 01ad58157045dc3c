"""Fixtures for tests that run real model-server processes (``python -m moorage.container``).

Every process started here is killed in teardown, whatever the test did.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from support.ports import free_port

READY_TIMEOUT_S = 30.0


def make_model_dir(
    root: Path, script: str, *, program: str = "inference.py", files: Mapping[str, str] = {}
) -> Path:
    """A model directory with ``code/<program>`` and extra files (paths relative to it)."""
    root.mkdir(parents=True, exist_ok=True)
    code = root / "code"
    code.mkdir(exist_ok=True)
    (code / program).write_text(textwrap.dedent(script))
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode()


class ModelServer:
    """One model-server process on a free port."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, logs: Path) -> None:
        self.proc = proc
        self.port = port
        self.logs = logs

    @property
    def stdout(self) -> str:
        return (self.logs / "stdout").read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return (self.logs / "stderr").read_text(errors="replace")

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        conn = self.connection(timeout)
        try:
            data = body.encode() if isinstance(body, str) else body
            conn.request(method, path, body=data, headers=dict(headers or {}))
            response = conn.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            conn.close()

    def invoke(
        self, body: bytes | str, content_type: str | None = "application/json", **headers: str
    ) -> Response:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if content_type is not None:
            sent["Content-Type"] = content_type
        return self.request("POST", "/invocations", body, sent)

    def ping_status(self) -> int | None:
        try:
            return self.request("GET", "/ping", timeout=2).status
        except OSError:
            return None

    def wait_listening(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while "listening on" not in self.stdout:
            self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start listening:\n{self.stderr}")
            time.sleep(0.02)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while self.ping_status() != 200:
            self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not become ready:\n{self.stderr}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)

    def _check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"server exited with {code}:\n{self.stderr}")


class Servers:
    """Starts model servers and kills every one of them on :meth:`close`."""

    def __init__(self, logs_root: Path) -> None:
        self.logs_root = logs_root
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pids: list[int] = []  # processes started by others (grandchildren)

    def start(
        self,
        model_dir: Path,
        env: Mapping[str, str] | None = None,
        args: list[str] | None = None,
        *,
        port: int | None = None,
        ready: bool = True,
    ) -> ModelServer:
        port = free_port() if port is None else port
        logs = self.logs_root / f"server-{len(self.procs)}"
        logs.mkdir(parents=True)
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MOORAGE_", "SAGEMAKER_"))
        }
        full_env.update(env or {})
        argv = [sys.executable, "-m", "moorage.container", "--model-dir", str(model_dir)]
        argv += ["--port", str(port)] if args is None else args
        with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=full_env, cwd=model_dir)
        self.procs.append(proc)
        server = ModelServer(proc, port, logs)
        if ready:
            server.wait_ready()
        return server

    def track(self, proc: subprocess.Popen[bytes]) -> None:
        self.procs.append(proc)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        for pid in self.pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    pool = Servers(tmp_path / "logs")
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    pool = Servers(tmp_path_factory.mktemp("logs"))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def model_dir_factory() -> Callable[..., Path]:
    """``make_model_dir`` for test modules (they cannot import this conftest)."""
    return make_model_dir
