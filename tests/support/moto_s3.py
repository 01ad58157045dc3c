"""A real S3 stand-in for tests: moto's server in a subprocess.

Use it from any test suite by re-exporting the fixtures from the suite's
``conftest.py`` (importing them into a test module would make ruff report the
fixture arguments as redefinitions)::

    # tests/<suite>/conftest.py
    from support.moto_s3 import moto_s3, s3_bucket

    __all__ = ["moto_s3", "s3_bucket"]

    # tests/<suite>/test_something.py
    from support.moto_s3 import MotoS3

    def test_something(moto_s3: MotoS3, s3_bucket: str) -> None:
        moto_s3.client.put_object(Bucket=s3_bucket, Key="model.tar.gz", Body=data)
        url = moto_s3.url(s3_bucket, "model.tar.gz")        # "s3://bucket/model.tar.gz"

(``pytest_plugins = ["support.moto_s3"]`` in the top-level ``tests/conftest.py``
would make them available everywhere.)

- ``moto_s3`` (session scope) starts ``moto_server`` once per test run (the
  executable next to ``sys.executable``) on a free loopback port, waits until
  it answers and stops it at the end, even when tests fail. Importing the
  fixture into several modules (or conftest files) still starts one server:
  the fixtures share a reference-counted instance.
- ``s3_bucket`` (function scope) creates a fresh, uniquely named bucket.
- ``moto_s3.client`` is a ready boto3 S3 client (dummy credentials,
  us-east-1); ``moto_s3.endpoint_url`` is the server's URL.
- To make a ``moorage serve`` process read model data from it, start that
  server with ``running(data_dir, env=moto_s3.env())`` (``support.server``):
  the environment sets ``AWS_ENDPOINT_URL_S3`` (which botocore honours),
  dummy credentials and the region.

Outside pytest, ``with moto_s3_server() as s3: ...`` does the same.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import boto3
import pytest

from support.names import unique
from support.ports import free_port

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoS3:
    """A running moto server and a boto3 S3 client for it."""

    def __init__(self, proc: subprocess.Popen[bytes], endpoint_url: str, log: IO[bytes]) -> None:
        self.proc = proc
        self.endpoint_url = endpoint_url
        self.log = log
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=REGION, **CREDENTIALS
        )

    def new_bucket(self, prefix: str = "bucket") -> str:
        """Create a bucket with a unique name and return the name."""
        name = unique(prefix).lower()
        self.client.create_bucket(Bucket=name)
        return name

    @staticmethod
    def url(bucket: str, key: str = "") -> str:
        return f"s3://{bucket}/{key}"

    def env(self) -> dict[str, str]:
        """Environment for a process that should use this server as its S3."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
        }

    def output(self) -> str:
        """What the server printed so far (for failure messages)."""
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]


def _start(timeout: float) -> MotoS3:
    last_output = ""
    for _attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = tempfile.NamedTemporaryFile(prefix="moto-s3-", suffix=".log", delete=False)  # noqa: SIM115
        command = [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)]
        # The kernel kills the server if the test process dies without
        # tearing down (e.g. SIGKILL), so no stray server is left.
        if sys.platform.startswith("linux") and shutil.which("setpriv"):
            command = ["setpriv", "--pdeathsig", "KILL", *command]
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = MotoS3(proc, url, log)
        if _wait_ready(server, timeout):
            return server
        last_output = server.output()
        _stop(server)
    raise RuntimeError(f"moto_server did not start:\n{last_output}")


def _wait_ready(server: MotoS3, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            return False  # e.g. the port was taken meanwhile
        try:
            with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.05)
    return False


def _stop(server: MotoS3) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    server.log.close()
    with contextlib.suppress(OSError):
        os.unlink(server.log.name)


@contextlib.contextmanager
def moto_s3_server(timeout: float = 30.0) -> Iterator[MotoS3]:
    """Start a moto server of its own; stop it on exit."""
    server = _start(timeout)
    try:
        yield server
    finally:
        _stop(server)


class _Shared:
    """One server per process however many fixture definitions use it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.server: MotoS3 | None = None

    def acquire(self) -> MotoS3:
        with self.lock:
            if self.server is None:
                self.server = _start(30.0)
            self.users += 1
            return self.server

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.server is not None:
                _stop(self.server)
                self.server = None


_shared = _Shared()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """The run's moto S3 server (started on first use)."""
    server = _shared.acquire()
    try:
        yield server
    finally:
        _shared.release()


@pytest.fixture
def s3_bucket(moto_s3: MotoS3) -> str:
    """A fresh bucket for one test."""
    return moto_s3.new_bucket()
