"""Local model data (file:// URLs and absolute paths), empty model data, sweeping."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from moorage.artifacts import ArtifactCache, ArtifactError, ModelSource, materialize, release


def write_tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def no_s3() -> object:
    raise AssertionError("local model data must not create an S3 client")


@pytest.fixture
def cache(tmp_path: Path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "artifacts", no_s3)


@pytest.mark.parametrize("scheme", ["file://", ""])
def test_local_archive_is_extracted_and_cached(
    tmp_path: Path, cache: ArtifactCache, scheme: str
) -> None:
    archive = write_tar_gz(tmp_path / "model.tar.gz", {"code/inference.py": b"v = 1\n"})
    url = f"{scheme}{archive}"
    first = materialize(url, cache, timeout_s=60)
    assert (first / "code" / "inference.py").read_bytes() == b"v = 1\n"
    assert materialize(url, cache, timeout_s=60) == first
    write_tar_gz(archive, {"code/inference.py": b"v = 22\n"})
    os.utime(archive, ns=(1, 1))  # a different size and mtime: a new version
    second = materialize(url, cache, timeout_s=60)
    assert second != first
    assert (second / "code" / "inference.py").read_bytes() == b"v = 22\n"


def test_local_directory_is_used_in_place_or_copied(tmp_path: Path, cache: ArtifactCache) -> None:
    folder = tmp_path / "my-model"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "inference.py").write_text("x = 1\n")
    (tmp_path / "blob").write_bytes(b"weights")
    (folder / "weights.bin").symlink_to(tmp_path / "blob")
    assert materialize(f"file://{folder}", cache, timeout_s=60) == folder
    private = materialize(str(folder), cache, timeout_s=60, use_cache=False)
    assert private.parent == cache.private
    assert (private / "code" / "inference.py").read_text() == "x = 1\n"
    assert not (private / "weights.bin").is_symlink()  # links are followed into a real copy
    assert (private / "weights.bin").read_bytes() == b"weights"
    release(private, cache)
    assert not private.exists()
    assert folder.exists()


def test_local_uncompressed_file(tmp_path: Path, cache: ArtifactCache) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"tensor")
    model = materialize(ModelSource.of(str(weights), compressed=False), cache, timeout_s=60)
    assert [p.name for p in model.iterdir()] == ["model.safetensors"]
    assert (model / "model.safetensors").read_bytes() == b"tensor"


def test_local_errors(tmp_path: Path, cache: ArtifactCache) -> None:
    with pytest.raises(ArtifactError) as missing:
        materialize(f"file://{tmp_path}/nope.tar.gz", cache, timeout_s=60)
    assert missing.value.message == f"model artifact file://{tmp_path}/nope.tar.gz does not exist"
    a_file = tmp_path / "f.bin"
    a_file.write_bytes(b"x")
    prefix = ModelSource.of(str(a_file), prefix=True, compressed=False)
    with pytest.raises(ArtifactError, match="S3Prefix needs a directory"):
        materialize(prefix, cache, timeout_s=60)
    with pytest.raises(ArtifactError, match="is not a valid gzip-compressed tar archive"):
        materialize(str(a_file), cache, timeout_s=60)
    with pytest.raises(ArtifactError, match="is not supported"):
        materialize("relative/model.tar.gz", cache, timeout_s=60)


def test_no_model_data_is_an_empty_directory(cache: ArtifactCache) -> None:
    shared = materialize(None, cache, timeout_s=60)
    assert shared.is_dir() and list(shared.iterdir()) == []
    assert materialize(None, cache, timeout_s=60) == shared
    private = materialize(None, cache, timeout_s=60, use_cache=False)
    assert private != shared and private.is_dir()
    release(private, cache)
    assert not private.exists()


def test_threads_share_one_extraction(tmp_path: Path, cache: ArtifactCache) -> None:
    archive = write_tar_gz(
        tmp_path / "model.tar.gz", {f"f{i}.bin": os.urandom(20_000) for i in range(20)}
    )
    results: list[Path] = []

    def start() -> None:
        results.append(materialize(str(archive), cache, timeout_s=60))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert [p.name for p in cache.models.iterdir()] == [results[0].name]
    assert len(list(results[0].iterdir())) == 20


def test_sweep_removes_leftovers_of_dead_processes(tmp_path: Path, cache: ArtifactCache) -> None:
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: never running
    cache.models.mkdir(parents=True)
    cache.private.mkdir(parents=True)
    (cache.models / f".partial-{dead_pid}-abc-model").mkdir()
    (cache.private / f"copy-{dead_pid}-abc").mkdir()
    mine = materialize(None, cache, timeout_s=60, use_cache=False)
    assert cache.sweep() == 2
    assert mine.exists()
    assert [p.name for p in cache.private.iterdir()] == [mine.name]


def test_symlink_loop_in_a_local_directory_is_copied_once(
    tmp_path: Path, cache: ArtifactCache
) -> None:
    folder = tmp_path / "loopy"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "f.txt").write_text("f")
    (folder / "sub" / "back").symlink_to(folder)
    private = materialize(str(folder), cache, timeout_s=60, use_cache=False)
    assert (private / "sub" / "f.txt").read_text() == "f"
