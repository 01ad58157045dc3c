"""The code directory SAGEMAKER_SUBMIT_DIRECTORY names, prepared by the fleet's preparer.

S3 is moto's server; the preparer is the one ``moorage serve`` uses, with its
cache, caps, file roots and private directories.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from moorage.file_roots import FileRoots
from moorage.fleet.artifact_preparer import ArtifactPreparer
from moorage.fleet.prepare import PrepareError
from support.moto_s3 import MotoS3
from support.wheels import WHEEL_NAME, tiny_wheel


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def preparer(tmp_path: Path, moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> ArtifactPreparer:
    for name, value in moto_s3.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return ArtifactPreparer(tmp_path / "cache", max_unpacked_bytes=1024**2)


def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "inference.py").write_text("VERSION = 'archive'\n")
    return folder


def put(moto: MotoS3, bucket: str, key: str, body: bytes) -> str:
    moto.client.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def test_s3_sourcedir_is_fetched_cached_and_refetched_when_changed(
    preparer: ArtifactPreparer, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    model = model_dir(tmp_path)
    url = put(moto_s3, s3_bucket, "m/sourcedir.tar.gz", tar_gz({"serve.py": b"V = 1\n"}))
    code = preparer.code_dir(url, model, timeout_s=60, use_cache=True)
    assert (code / "serve.py").read_bytes() == b"V = 1\n"
    assert code.parent == preparer.cache.models
    assert stat_mode(code / "serve.py") & 0o077 == 0  # private, like every extraction
    assert preparer.code_dir(url, model, timeout_s=60, use_cache=True) == code
    put(moto_s3, s3_bucket, "m/sourcedir.tar.gz", tar_gz({"serve.py": b"V = 2\n"}))
    changed = preparer.code_dir(url, model, timeout_s=60, use_cache=True)
    assert changed != code
    assert (changed / "serve.py").read_bytes() == b"V = 2\n"


def test_private_code_is_removed_on_release(
    preparer: ArtifactPreparer, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    model = model_dir(tmp_path)
    url = put(moto_s3, s3_bucket, "sourcedir.tar.gz", tar_gz({"serve.py": b"V = 1\n"}))
    code = preparer.code_dir(url, model, timeout_s=60, use_cache=False)
    assert code.parent == preparer.cache.private
    preparer.release(model, None, code)
    assert not code.exists()
    assert model.exists()  # a local model directory is the user's own


def test_code_inside_the_model_and_by_default(preparer: ArtifactPreparer, tmp_path: Path) -> None:
    model = model_dir(tmp_path)
    for value in (None, "", "/opt/ml/model/code", "file:///opt/ml/model/code/"):
        assert preparer.code_dir(value, model, timeout_s=60, use_cache=True) == model / "code"
    assert preparer.code_dir("/opt/ml/model", model, timeout_s=60, use_cache=True) == model / "."
    preparer.release(model, None, model / "code")
    assert (model / "code" / "inference.py").exists()


def test_local_directory_is_used_in_place_and_a_local_archive_unpacked(
    preparer: ArtifactPreparer, tmp_path: Path
) -> None:
    model = model_dir(tmp_path)
    source = tmp_path / "src"
    source.mkdir()
    (source / "serve.py").write_text("V = 'local'\n")
    assert preparer.code_dir(f"file://{source}", model, timeout_s=60, use_cache=True) == source
    assert preparer.code_dir(str(source), model, timeout_s=60, use_cache=True) == source
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(tar_gz({"serve.py": b"V = 'tar'\n"}))
    code = preparer.code_dir(str(archive), model, timeout_s=60, use_cache=True)
    assert (code / "serve.py").read_text() == "V = 'tar'\n"


def test_requirements_of_fetched_code_are_installed(
    preparer: ArtifactPreparer, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    model = model_dir(tmp_path)
    files = {"requirements.txt": f"./{WHEEL_NAME}\n".encode(), WHEEL_NAME: tiny_wheel(5)}
    url = put(moto_s3, s3_bucket, "req/sourcedir.tar.gz", tar_gz(files))
    code = preparer.code_dir(url, model, timeout_s=60, use_cache=True)
    site = preparer.requirements(model, use_cache=True, code_dir=code)
    assert site is not None
    assert (site / "tinydep" / "__init__.py").read_text() == "VALUE = 5\n"
    # The model's own code/ has no requirements: nothing to install for it.
    assert preparer.requirements(model, use_cache=True) is None


def test_failing_requirements_name_where_the_file_came_from(
    preparer: ArtifactPreparer, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    model = model_dir(tmp_path)
    files = {"requirements.txt": b"./no-such-wheel-0.1-py3-none-any.whl\n"}
    url = put(moto_s3, s3_bucket, "bad/sourcedir.tar.gz", tar_gz(files))
    code = preparer.code_dir(url, model, timeout_s=60, use_cache=True)
    with pytest.raises(PrepareError, match=r"pip install -r requirements\.txt of SAGEMAKER_SUBMIT"):
        preparer.requirements(model, use_cache=True, code_dir=code)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("s3://{bucket}/missing/sourcedir.tar.gz", "no object with key 'missing/sourcedir.tar.gz'"),
        ("http://example.com/sourcedir.tar.gz", "is not supported"),
        ("code", "is not an absolute path"),
        ("https://example.com/sourcedir.tar.gz", "is not an Amazon S3 URL"),
        ("file:///nonexistent/src", "does not exist"),
        ("s3://", "names no bucket"),
        (" s3://b/k.tar.gz", "white space"),
    ],
)
def test_unusable_code_locations_are_clear_errors(
    preparer: ArtifactPreparer, s3_bucket: str, tmp_path: Path, value: str, says: str
) -> None:
    value = value.format(bucket=s3_bucket)
    with pytest.raises(PrepareError) as caught:
        preparer.code_dir(value, model_dir(tmp_path), timeout_s=60, use_cache=True)
    message = str(caught.value)
    assert "SAGEMAKER_SUBMIT_DIRECTORY" in message
    assert says in message


def test_code_over_the_unpacked_cap_is_refused(
    preparer: ArtifactPreparer, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    big = os.urandom(2 * 1024**2)  # incompressible, over the 1 MiB cap of the fixture
    url = put(moto_s3, s3_bucket, "big/sourcedir.tar.gz", tar_gz({"blob.bin": big}))
    with pytest.raises(PrepareError, match=r"SUBMIT_DIRECTORY.*unpacks to more than 1 MiB"):
        preparer.code_dir(url, model_dir(tmp_path), timeout_s=60, use_cache=True)
    models = preparer.cache.models
    assert not models.exists() or not any(models.iterdir())  # nothing half-extracted kept


def test_local_code_outside_the_file_roots_is_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    preparer = ArtifactPreparer(
        tmp_path / "cache", file_roots=FileRoots.of([allowed]), max_unpacked_bytes=1024**2
    )
    model = model_dir(tmp_path)
    with pytest.raises(PrepareError, match="outside the file roots"):
        preparer.code_dir(f"file://{outside}", model, timeout_s=60, use_cache=True)
    # The container's own view of the model directory is not a host path.
    assert preparer.code_dir("/opt/ml/model/code", model, timeout_s=60, use_cache=True) == (
        model / "code"
    )


def stat_mode(path: Path) -> int:
    return path.stat().st_mode
