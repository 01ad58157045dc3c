"""Start a real ``moorage serve`` process for tests, and boto3 clients for it.

The server is started exactly as users start it (the ``moorage`` command
line), on a free port, with its own data dir; it is stopped with SIGTERM (and
killed if it does not stop) even when the test fails. Clients sign with the
key the server wrote to its data dir's ``credentials`` file on first start
(or the file given with ``--credentials``), as a user's would; the keys of
every running server are kept by URL (:func:`credentials_for`) so that raw
requests (:mod:`support.raw`) are signed too.
"""

from __future__ import annotations

import configparser
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
REGION = "us-east-1"
ANY_KEY = {"region_name": REGION, "aws_access_key_id": "any", "aws_secret_access_key": "any"}
# Keys of the servers started by this process, by URL.
_KEYS: dict[str, dict[str, str]] = {}


def credentials_for(url: str) -> dict[str, str]:
    """``region_name``, ``aws_access_key_id`` and ``aws_secret_access_key`` for ``url``."""
    return dict(_KEYS[url.rstrip("/")])


def read_keys(path: Path) -> dict[str, str]:
    """The first key pair of an AWS shared-credentials file."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    section = parser[parser.sections()[0]]
    return {
        "region_name": REGION,
        "aws_access_key_id": section["aws_access_key_id"],
        "aws_secret_access_key": section["aws_secret_access_key"],
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
                # A server with --auth none has no key and accepts any.
                keys = read_keys(self._key_file()) if self._key_file().exists() else ANY_KEY
                _KEYS[self.url] = {**keys, "region_name": self._region()}
                threading.Thread(target=self._pump, daemon=True).start()
                return self
        self.stop()
        raise RuntimeError("moorage serve did not start:\n" + "".join(self.output))

    def _region(self) -> str:
        args = list(self.extra_args)
        return args[args.index("--region") + 1] if "--region" in args else REGION

    def _key_file(self) -> Path:
        args = list(self.extra_args)
        if "--credentials" in args:
            return Path(args[args.index("--credentials") + 1])
        return self.data_dir / "credentials"

    @property
    def credentials(self) -> dict[str, str]:
        """The signing key and region, as boto3 client keyword arguments."""
        return credentials_for(self.url)

    def aws_env(self) -> dict[str, str]:
        """Environment variables that give a subprocess (AWS CLI, moorage ...) the key."""
        keys = self.credentials
        return {
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": keys["region_name"],
        }

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
        keys = _KEYS.get(self.url) or ANY_KEY
        return boto3.client(
            service,
            endpoint_url=self.url,
            config=Config(retries={"max_attempts": 1}, **config),
            **keys,
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
