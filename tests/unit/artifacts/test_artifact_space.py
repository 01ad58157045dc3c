"""Disk space while unpacking model data: the cap, the free-space reserve, a full disk.

The reserve is tested with an injected probe that reports a small disk whose
free space shrinks by what the extraction has written so far (the extractor
itself is real and writes real files). A real "disk full" is made without
root: a child process lowers its RLIMIT_FSIZE, so that writes past the limit
fail with EFBIG, which moorage reports as it reports ENOSPC.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.artifacts import ArtifactCache, ArtifactError, ExtractLimits, extract_archive
from moorage.artifacts.model_dir import materialize
from moorage.artifacts.space import (
    DiskSpace,
    FreeSpaceReserve,
    WriteBudget,
    is_disk_full,
    os_error_cause,
    tree_size,
)

URL = "s3://b/model.tar.gz"
MIB = 1024**2
GIB = 1024**3


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read in chunks (no big buffer in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zeros_archive(path: Path, files: dict[str, int]) -> Path:
    """A gzip'd tar of files of zeros (name → size): tiny on disk, large unpacked."""
    with gzip.open(path, "wb", compresslevel=1) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for name, size in files.items():
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BufferedReader(_Zeros(size)))
    return path


class ShrinkingDisk:
    """A probe for a disk of ``free`` bytes that fills as ``watched`` grows."""

    def __init__(self, watched: Path, free: int, total: int = 100 * GIB) -> None:
        self.watched = watched
        self.free = free
        self.total = total
        self.probes = 0

    def __call__(self, path: Path) -> DiskSpace:
        self.probes += 1
        used = tree_size(self.watched) if self.watched.exists() else 0
        return DiskSpace(free=self.free - used, total=self.total)


def only_leftovers(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_reserve_is_1_gib_or_5_percent_of_a_small_disk() -> None:
    reserve = FreeSpaceReserve()
    assert reserve.required(500 * GIB) == GIB
    assert reserve.required(10 * GIB) == int(0.5 * GIB)


def test_extraction_stops_when_free_space_reaches_the_reserve(tmp_path: Path) -> None:
    archive = zeros_archive(tmp_path / "m.tar.gz", {"weights.bin": 40 * MIB})
    out = tmp_path / "out"
    out.mkdir()
    # 20 MiB above a 1 GiB reserve: the 40 MiB file cannot fit.
    disk = ShrinkingDisk(out, free=GIB + 20 * MIB)
    reserve = FreeSpaceReserve(min_bytes=GIB, fraction=1.0, check_every_bytes=4 * MIB, probe=disk)
    with pytest.raises(ArtifactError) as info:
        extract_archive(archive, out / "model", url=URL, reserve=reserve)
    message = info.value.message
    assert message.startswith(f"model artifact {URL} could not be stored: not enough disk space")
    assert "moorage keeps at least 1 GiB free" in message
    assert only_leftovers(out) == []  # the partial extraction is gone
    # It stopped within one probe interval past the reserve, not at the end.
    assert disk.probes <= 20 // 4 + 2


def test_extraction_does_not_start_below_the_reserve(tmp_path: Path) -> None:
    archive = zeros_archive(tmp_path / "m.tar.gz", {"small.bin": 1000})
    out = tmp_path / "out"
    out.mkdir()
    disk = ShrinkingDisk(out, free=GIB - 1)
    reserve = FreeSpaceReserve(min_bytes=GIB, fraction=1.0, probe=disk)
    with pytest.raises(ArtifactError, match=r"only 1 GiB \(1073741823 bytes\) are free"):
        extract_archive(archive, out / "model", url=URL, reserve=reserve)
    assert disk.probes == 1
    assert only_leftovers(out) == []


def test_enough_free_space_extracts_with_periodic_probes(tmp_path: Path) -> None:
    archive = zeros_archive(tmp_path / "m.tar.gz", {"a.bin": 9 * MIB, "b.bin": 3 * MIB})
    out = tmp_path / "out"
    out.mkdir()
    disk = ShrinkingDisk(out, free=2 * GIB)
    reserve = FreeSpaceReserve(min_bytes=GIB, fraction=1.0, check_every_bytes=2 * MIB, probe=disk)
    extract_archive(archive, out / "model", url=URL, reserve=reserve)
    assert (out / "model" / "a.bin").stat().st_size == 9 * MIB
    assert disk.probes >= 1 + 12 // 2


def test_a_gzip_bomb_is_stopped_at_the_cap_and_leaves_nothing(tmp_path: Path) -> None:
    archive = zeros_archive(tmp_path / "bomb.tar.gz", {"a.bin": 6 * MIB, "zeros.bin": 200 * MIB})
    assert archive.stat().st_size < 2 * MIB
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ArtifactError) as info:
        extract_archive(archive, out / "model", url=URL, limits=ExtractLimits(max_bytes=50 * MIB))
    assert info.value.message == (
        f"model artifact {URL} was rejected: it unpacks to more than 50 MiB (52428800 bytes), "
        "the limit on a model's unpacked data (moorage serve --max-unpacked-size)"
    )
    assert only_leftovers(out) == []


def test_the_budget_counts_bytes_written_not_announced() -> None:
    disk_probes: list[Path] = []

    def probe(path: Path) -> DiskSpace:
        disk_probes.append(path)
        return DiskSpace(free=100 * GIB, total=200 * GIB)

    budget = WriteBudget(
        "model artifact x",
        Path("/"),
        max_bytes=10 * MIB,
        reserve=FreeSpaceReserve(check_every_bytes=MIB, probe=probe),
    )
    budget.start()
    assert budget.fits(10 * MIB) and not budget.fits(10 * MIB + 1)
    for _ in range(10):
        budget.spend(MIB)
    assert len(disk_probes) == 1 + 10
    with pytest.raises(ArtifactError, match="more than 10 MiB"):
        budget.spend(1)


def test_local_copies_count_against_the_cap(tmp_path: Path) -> None:
    folder = tmp_path / "model-folder"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(bytes(3 * MIB))
    cache = ArtifactCache(tmp_path / "cache")
    # In place: a local folder is not copied, so nothing is counted.
    assert materialize(folder.as_uri(), cache, timeout_s=60, limits=ExtractLimits(MIB)) == folder
    with pytest.raises(ArtifactError, match="unpacks to more than 1 MiB"):
        materialize(
            folder.as_uri(), cache, timeout_s=60, use_cache=False, limits=ExtractLimits(MIB)
        )
    assert only_leftovers(cache.private) == []


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (errno.ENOSPC, "the disk holding /d is full (No space left on device)"),
        (errno.EDQUOT, "the quota on the disk holding /d is used up (Disk quota exceeded)"),
        (errno.EFBIG, "a file size limit stopped a write to the disk holding /d (File too"),
    ],
)
def test_disk_full_errors_are_named(code: int, phrase: str) -> None:
    exc = OSError(code, os.strerror(code))
    assert is_disk_full(exc)
    assert phrase in os_error_cause(exc, "/d")
    assert os_error_cause(OSError(errno.EACCES, "Permission denied"), "/d") == "Permission denied"


# A child with a 4 MiB file size limit: writes past it fail with EFBIG (Python
# ignores SIGXFSZ), as they would on a full disk.
_LIMITED = """
import json, resource, sys
from pathlib import Path
from moorage.artifacts import ArtifactCache, ArtifactError, extract_archive, materialize
resource.setrlimit(resource.RLIMIT_FSIZE, (4 * 1024 * 1024, resource.RLIM_INFINITY))
kind, source, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
try:
    if kind == "extract":
        extract_archive(source, out / "model", url="s3://b/model.tar.gz")
    else:
        materialize(source.as_uri(), ArtifactCache(out), timeout_s=60, use_cache=False)
except ArtifactError as exc:
    print(json.dumps({"error": exc.message}))
else:
    print(json.dumps({"error": None}))
"""


def _limited(kind: str, source: Path, out: Path) -> str | None:
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED, kind, str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    error: str | None = json.loads(done.stdout)["error"]
    return error


@pytest.fixture
def out(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "out"
    folder.mkdir()
    yield folder


def test_a_real_write_failure_while_extracting_is_reported(tmp_path: Path, out: Path) -> None:
    archive = zeros_archive(tmp_path / "m.tar.gz", {"code/x.py": 10, "weights.bin": 8 * MIB})
    error = _limited("extract", archive, out)
    assert error is not None
    assert error.startswith(
        "model artifact s3://b/model.tar.gz could not be extracted: writing 'weights.bin' failed:"
    )
    assert "a file size limit stopped a write to the disk holding" in error
    assert error.endswith("(File too large)")
    assert only_leftovers(out) == []


def test_a_real_write_failure_while_copying_is_reported(tmp_path: Path, out: Path) -> None:
    folder = tmp_path / "model-folder"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(bytes(8 * MIB))
    error = _limited("copy", folder, out)
    assert error is not None
    assert "could not be copied into a model directory" in error
    assert "File too large" in error
    assert only_leftovers(out / "private") == []
