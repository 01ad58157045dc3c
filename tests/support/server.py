"""Start a real ``moorage serve`` process for tests, and boto3 clients for it.

The server is started exactly as users start it (the ``moorage`` command
line), on a free port, with its own data dir; it is stopped with SIGTERM (and
killed if it does not stop) even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

BIN = Path(sys.executable).parent
CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}


class MoorageServer:
    def __init__(
        self,
        data_dir: Path,
        *,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout: float = 30.0) -> MoorageServer:
        cmd = [
            str(BIN / "moorage"),
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if " listening on " in line:
                self.url = line.split(" listening on ")[1].split()[0]
                threading.Thread(target=self._pump, daemon=True).start()
                return self
        self.stop()
        raise RuntimeError("moorage serve did not start:\n" + "".join(self.output))

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        # Nothing the server started may outlive it; kill its session as a
        # last resort so that a failing test leaves no processes behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            config=Config(retries={"max_attempts": 1}, **config),
            **CREDENTIALS,
        )

    @property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")


@contextlib.contextmanager
def running(data_dir: Path, **kwargs: Any) -> Iterator[MoorageServer]:
    server = MoorageServer(data_dir, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
