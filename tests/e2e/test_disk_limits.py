"""Model data that would fill the disk, end to end: real servers, real archives, boto3.

A gzip bomb (a tar of 200 MB of zeros, compressed to a few hundred KB) is
deployed from a local file and from (moto's) S3 to a server started with
``--max-unpacked-size 50M``: the endpoint fails with a FailureReason that
names the cap, and nothing of the extraction, nor the downloaded archive,
stays in the cache. A real write failure is made without root: the server is
started with a file size limit (RLIMIT_FSIZE) below the model's size, so its
writes fail with EFBIG, as on a full disk.
"""

from __future__ import annotations

import gzip
import io
import os
import resource
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.endpoints import create_endpoint, create_model, delete, variant, wait_status
from support.moto_s3 import MotoS3
from support.names import unique
from support.server import BIN, MoorageServer, running

MIB = 1024**2
CAP_REASON = (
    "was rejected: it unpacks to more than 50 MiB (52428800 bytes), the limit on a model's "
    "unpacked data (moorage serve --max-unpacked-size)"
)
INFERENCE = b"def model_fn(model_dir):\n    return None\n"


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def gzip_bomb(path: Path, zeros: int) -> Path:
    """A model.tar.gz with real code and one file of ``zeros`` zero bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb", compresslevel=6) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        code = tarfile.TarInfo("code/inference.py")
        code.size = len(INFERENCE)
        tar.addfile(code, io.BytesIO(INFERENCE))
        info = tarfile.TarInfo("zeros.bin")
        info.size = zeros
        tar.addfile(info, io.BufferedReader(_Zeros(zeros)))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = gzip_bomb(tmp_path_factory.mktemp("bomb") / "model.tar.gz", 200 * 1000**2)
    assert path.stat().st_size < 1 * MIB
    return path


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[MoorageServer]:
    data = tmp_path_factory.mktemp("capped-data")
    with running(data, extra_args=("--max-unpacked-size", "50M"), env=moto_s3.env()) as srv:
        yield srv


def _fails(sm: Any, url: str) -> str:
    name = unique("bomb")
    create_model(sm, name, url)
    create_endpoint(sm, name, [variant("AllTraffic", name)])
    reason: str = wait_status(sm, name, "Failed", timeout=120)["FailureReason"]
    delete(sm, name)
    return reason


def _leftovers(cache: Path) -> list[str]:
    """What the cache holds besides its folders, url notes and the empty model."""
    found = []
    for path in cache.rglob("*"):
        if path.name == "url.txt" or (path.is_dir() and not path.name.startswith(".partial-")):
            continue
        found.append(str(path.relative_to(cache)))
    return found


def test_a_gzip_bomb_fails_the_endpoint_at_the_cap(capped: MoorageServer, bomb: Path) -> None:
    reason = _fails(capped.sagemaker, bomb.as_uri())
    assert reason.endswith(f"model artifact {bomb.as_uri()} {CAP_REASON}"), reason
    assert _leftovers(capped.data_dir / "cache") == []
    assert "Traceback" not in "".join(capped.output)


def test_a_gzip_bomb_from_s3_leaves_nothing_in_the_cache(
    capped: MoorageServer, bomb: Path, moto_s3: MotoS3, s3_bucket: str
) -> None:
    moto_s3.client.put_object(Bucket=s3_bucket, Key="bomb/model.tar.gz", Body=bomb.read_bytes())
    url = moto_s3.url(s3_bucket, "bomb/model.tar.gz")
    reason = _fails(capped.sagemaker, url)
    assert reason.endswith(f"model artifact {url} {CAP_REASON}"), reason
    assert _leftovers(capped.data_dir / "cache") == []


def test_a_model_within_the_cap_still_deploys(capped: MoorageServer, tmp_path: Path) -> None:
    archive = gzip_bomb(tmp_path / "model.tar.gz", 10 * MIB)
    sm = capped.sagemaker
    name = unique("fits")
    create_model(sm, name, archive.as_uri())
    create_endpoint(sm, name, [variant("AllTraffic", name)])
    wait_status(sm, name, "InService", timeout=120)
    delete(sm, name)


def test_a_write_failure_on_the_disk_is_a_clear_failure_reason(tmp_path: Path) -> None:
    archive = gzip_bomb(tmp_path / "model" / "model.tar.gz", 100 * MIB)
    # The child inherits the limit; this process gets its own back at once.
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * MIB, hard))
    try:
        server = MoorageServer(tmp_path / "data")
        server.start()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    try:
        reason = _fails(server.sagemaker, archive.as_uri())
        assert f"model artifact {archive.as_uri()} could not be extracted: writing " in reason
        assert (
            "'zeros.bin' failed: a file size limit stopped a write to the disk holding " in reason
        )
        assert reason.endswith("(File too large)"), reason
        assert _leftovers(tmp_path / "data" / "cache") == []
        assert "Traceback" not in "".join(server.output)
    finally:
        server.stop()


@pytest.mark.parametrize("value", ["lots", "0", "-1G", "12Q"])
def test_an_unusable_cap_is_refused_at_start(tmp_path: Path, value: str) -> None:
    done = subprocess.run(
        [
            str(BIN / "moorage"),
            "serve",
            "--data-dir",
            str(tmp_path),
            f"--max-unpacked-size={value}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("moorage serve: --max-unpacked-size"), done.stderr
    assert "Traceback" not in done.stderr
