"""Everything a server writes in its data dir is private to its user, whatever the umask.

A real server started under umask 022 on a data dir created 0755 deploys a
real model from a ``file://`` archive whose members are world-readable and
world-executable, installs its requirements (a wheel with a console script,
which pip makes ``r-x`` for everyone), serves and captures invocations, and
a second model whose data is one uncompressed ``file://`` file copied into
the cache. Then every entry under the data dir is checked for group and
other permission bits.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.endpoints import (
    IMAGE,
    create_endpoint,
    deploy,
    variant,
    wait_in_service,
    wait_status,
)
from support.server import MoorageServer

INFERENCE = """
    import json
    import os

    import privtool


    def model_fn(model_dir):
        return {"tag": open(os.path.join(model_dir, "tag.txt")).read().strip()}


    def transform_fn(model, data, content_type, accept):
        body = {"tag": model["tag"], "tool": privtool.VALUE}
        return json.dumps(body), "application/json"
"""
WHEEL = "privtool-0.1-py3-none-any.whl"


def _wheel() -> bytes:
    """A wheel with a console script: pip writes the script with mode r-x for everyone."""
    files = {
        "privtool/__init__.py": b"VALUE = 7\n\ndef main():\n    print(VALUE)\n",
        "privtool-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: privtool\nVersion: 0.1\n",
        "privtool-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: moorage-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        "privtool-0.1.dist-info/entry_points.txt": b"[console_scripts]\nprivtool = privtool:main\n",
    }

    def digest(data: bytes) -> str:
        raw = hashlib.sha256(data).digest()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    record = [f"{name},sha256={digest(data)},{len(data)}" for name, data in files.items()]
    record.append("privtool-0.1.dist-info/RECORD,,")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("privtool-0.1.dist-info/RECORD", "\n".join(record) + "\n")
    return buffer.getvalue()


def _archive(path: Path) -> Path:
    """A model archive whose members ask for generous modes (0777 directories, 0755 files)."""
    members: list[tuple[str, bytes | None, int]] = [
        ("code", None, 0o777),
        ("code/inference.py", textwrap.dedent(INFERENCE).encode(), 0o644),
        ("code/requirements.txt", f"./{WHEEL}\n".encode(), 0o666),
        (f"code/{WHEEL}", _wheel(), 0o644),
        ("bin", None, 0o755),
        ("bin/run.sh", b"#!/bin/sh\necho hi\n", 0o4777),
        ("tag.txt", b"private\n", 0o666),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    path.chmod(0o644)
    return path


def _loose_entries(root: Path) -> list[str]:
    """Entries under ``root`` (and ``root``) with any group or other permission bit."""
    loose = []
    for directory, dirs, files in os.walk(root):
        for name in (".", *dirs, *files):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                continue  # a link's own mode is meaningless; its target is checked itself
            if info.st_mode & 0o077:
                loose.append(f"{oct(stat.S_IMODE(info.st_mode))} {os.path.relpath(path, root)}")
    return loose


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="moorage-", dir="/tmp") as folder:
        yield Path(folder)


def test_everything_in_the_data_dir_is_private(tmp_path: Path, short_tmp: Path) -> None:
    # A short path, so that the copies' Unix sockets fit (108 bytes at most).
    data = short_tmp / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    archive = _archive(tmp_path / "artifacts" / "model.tar.gz")
    weights = tmp_path / "artifacts" / "weights.bin"
    weights.write_bytes(b"\x01" * 4096)
    weights.chmod(0o644)
    capture = tmp_path / "capture"
    previous = os.umask(0o022)
    try:
        srv = MoorageServer(data).start()
    finally:
        os.umask(previous)
    try:
        sm = srv.sagemaker
        deploy(
            sm,
            "private",
            archive.as_uri(),
            Environment={"SAGEMAKER_PROGRAM": "inference.py"},
        )
        # The second model's data is one file, copied into the cache (its
        # script is missing on purpose: the copy fails after the data is in place).
        sm.create_model(
            ModelName="single-file",
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataSource": {
                    "S3DataSource": {
                        "S3Uri": weights.as_uri(),
                        "S3DataType": "S3Object",
                        "CompressionType": "None",
                    }
                },
                "Environment": {"SAGEMAKER_PROGRAM": "missing.py"},
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName="captured",
            ProductionVariants=[variant("AllTraffic", "private")],
            DataCaptureConfig={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": capture.as_uri(),
                "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            },
        )
        sm.create_endpoint(EndpointName="captured", EndpointConfigName="captured")
        wait_in_service(sm, "captured")
        create_endpoint(sm, "single-file", [variant("AllTraffic", "single-file")])
        runtime = srv.client("sagemaker-runtime")
        for endpoint in ("private", "captured"):
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=b"{}", ContentType="application/json"
            )
            assert json.loads(answer["Body"].read()) == {"tag": "private", "tool": 7}
        # The single-file model has no script: it fails, after its data was copied.
        wait_status(sm, "single-file", "Failed", timeout=120)

        # What the walk must have seen, so that it checked the files that matter.
        names = {p.relative_to(data).as_posix() for p in data.rglob("*")}
        for expected in ("moorage.db", "moorage.db-wal", "lock", "logs/private", "cache/models"):
            assert expected in names, sorted(names)
        assert any(n.startswith("run/") and n.endswith(".sock") for n in names), sorted(names)
        assert any(n.startswith("cache/site/") and "/bin/privtool" in n for n in names)
        assert any(n.endswith("/weights.bin") for n in names), sorted(names)
        assert any(n.endswith("/bin/run.sh") for n in names)

        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert _loose_entries(data) == []
    finally:
        srv.stop()
    # Captured files (outside the data dir) were written under the server's umask too.
    assert [p for p in capture.rglob("*") if p.is_file()]
    assert _loose_entries(capture) == []
    # The user's own artifacts are left as they were.
    assert stat.S_IMODE(archive.stat().st_mode) == 0o644
    assert stat.S_IMODE(weights.stat().st_mode) == 0o644
