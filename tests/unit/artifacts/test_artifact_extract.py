"""Safe extraction: crafted archives that must be refused, and ones that must work."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from moorage.artifacts import ArtifactError, Deadline, ExtractLimits, extract_archive

URL = "s3://b/k"

Entry = Callable[[tarfile.TarFile], None]


def file(name: str, data: bytes = b"x", mode: int = 0o644) -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        tar.addfile(info, io.BytesIO(data))

    return add


def special(name: str, kind: bytes, linkname: str = "") -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        tar.addfile(info)

    return add


def directory(name: str) -> Entry:
    return special(name, tarfile.DIRTYPE)


def symlink(name: str, target: str) -> Entry:
    return special(name, tarfile.SYMTYPE, target)


def hardlink(name: str, target: str) -> Entry:
    return special(name, tarfile.LNKTYPE, target)


def archive(tmp_path: Path, *entries: Entry, gz: bool = True, name: str = "model.tar.gz") -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        for add in entries:
            add(tar)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return path


def extract(path: Path, target: Path, **limits: int) -> None:
    extract_archive(path, target, url=URL, limits=ExtractLimits(**limits))


def rejected(tmp_path: Path, *entries: Entry, match: str, **limits: int) -> ArtifactError:
    """Extract and expect a refusal that leaves nothing at or beside the target."""
    out = tmp_path / "out"
    out.mkdir()
    target = out / "model"
    with pytest.raises(ArtifactError, match=match) as info:
        extract(archive(tmp_path, *entries), target, **limits)
    assert not target.exists()
    assert list(out.iterdir()) == []  # no temporary directory left either
    assert not (tmp_path / "evil").exists()
    assert info.value.message.startswith(f"model artifact {URL} ")
    return info.value


def test_extracts_a_gzip_archive(tmp_path: Path) -> None:
    path = archive(
        tmp_path,
        directory("code"),
        file("code/inference.py", b"print('hi')\n"),
        file("./model.bin", b"\x00" * 10),
        file("bin/run.sh", b"#!/bin/sh\n", mode=0o4755),  # setuid must be dropped
    )
    target = tmp_path / "model"
    extract(path, target)
    assert (target / "code" / "inference.py").read_text() == "print('hi')\n"
    assert (target / "model.bin").stat().st_size == 10
    mode = stat.S_IMODE((target / "bin" / "run.sh").stat().st_mode)
    assert mode == 0o700  # owner only, whatever the archive and the umask say
    assert stat.S_IMODE((target / "model.bin").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "code").stat().st_mode) & 0o077 == 0


def test_format_is_detected_by_content_not_name(tmp_path: Path) -> None:
    plain = archive(tmp_path, file("a.txt", b"plain"), gz=False, name="model.tar.gz")
    extract(plain, tmp_path / "one")
    assert (tmp_path / "one" / "a.txt").read_bytes() == b"plain"
    zipped = archive(tmp_path, file("b.txt", b"zipped"), name="model.tar")
    extract(zipped, tmp_path / "two")
    assert (tmp_path / "two" / "b.txt").read_bytes() == b"zipped"


def test_absolute_member_is_rejected(tmp_path: Path) -> None:
    evil = str(tmp_path / "evil")
    rejected(tmp_path, file(evil), match="is an absolute path")


def test_dotdot_member_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, file("ok"), file("a/../../evil"), match="contains a '..' component")


def test_symlink_out_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, symlink("link", "../../evil"), match="points outside")


def test_absolute_symlink_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, symlink("link", "/etc/passwd"), match="points to an absolute path")


def test_write_through_symlink_parent_is_rejected(tmp_path: Path) -> None:
    # A link to "." is inside; a later link through it that climbs out is not.
    rejected(
        tmp_path,
        symlink("here", "."),
        symlink("here/up", "../../evil"),
        match="outside",
    )


def test_symlink_made_to_escape_by_a_later_link_is_rejected(tmp_path: Path) -> None:
    # "x" is checked while "y" does not exist (y/.. is the root); once "y"
    # points to "." the same text climbs one level out. The final audit sees it.
    rejected(tmp_path, symlink("x", "y/../evil"), symlink("y", "."), match="resolves outside")


def test_hardlink_out_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, hardlink("h", "../../etc/passwd"), match="'..'")


def test_absolute_hardlink_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, hardlink("h", "/etc/passwd"), match="absolute path")


def test_hardlink_through_symlinks_out_is_rejected(tmp_path: Path) -> None:
    # Each link alone stays inside; together "x" resolves one level above the
    # root, and a hardlink to "x" must not follow it there.
    rejected(
        tmp_path,
        symlink("x", "y/../secret"),
        symlink("y", "."),
        hardlink("h", "x"),
        match="hardlink member 'h' points outside",
    )


def test_links_inside_are_allowed(tmp_path: Path) -> None:
    path = archive(
        tmp_path,
        file("weights/real.bin", b"w"),
        symlink("current", "weights/real.bin"),
        symlink("weights/alias", "real.bin"),
        symlink("dir-link", "weights"),
        file("dir-link/through.txt", b"t"),  # written through an inside link: lands inside
        hardlink("copy.bin", "weights/real.bin"),
    )
    target = tmp_path / "model"
    extract(path, target)
    assert (target / "current").read_bytes() == b"w"
    assert (target / "weights" / "alias").read_bytes() == b"w"
    assert (target / "weights" / "through.txt").read_bytes() == b"t"
    assert (target / "copy.bin").stat().st_ino == (target / "weights" / "real.bin").stat().st_ino


def test_file_replacing_a_symlink_does_not_write_through_it(tmp_path: Path) -> None:
    path = archive(tmp_path, file("real", b"keep"), symlink("f", "real"), file("f", b"new"))
    target = tmp_path / "model"
    extract(path, target)
    assert (target / "real").read_bytes() == b"keep"
    assert not (target / "f").is_symlink()
    assert (target / "f").read_bytes() == b"new"


@pytest.mark.parametrize(
    ("kind", "word"),
    [
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "FIFO"),
    ],
)
def test_devices_and_fifos_are_rejected(tmp_path: Path, kind: bytes, word: str) -> None:
    rejected(tmp_path, file("ok"), special("dev", kind), match=word)


def test_too_many_bytes_is_rejected(tmp_path: Path) -> None:
    error = rejected(
        tmp_path,
        file("a", b"1" * 600),
        file("b", b"2" * 600),
        match="more than 1000 bytes",
        max_bytes=1000,
    )
    assert "limit" in error.message


def test_too_many_members_is_rejected(tmp_path: Path) -> None:
    entries = [file(f"f{i}") for i in range(6)]
    rejected(tmp_path, *entries, match="more than 5 members", max_members=5)


def test_limits_that_fit_are_fine(tmp_path: Path) -> None:
    path = archive(tmp_path, file("a", b"1" * 10), file("b", b"2" * 10))
    extract(path, tmp_path / "model", max_bytes=20, max_members=2)


def test_corrupt_gzip_is_a_clear_error(tmp_path: Path) -> None:
    good = gzip.compress(archive(tmp_path, file("a", b"x" * 5000), gz=False).read_bytes())
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(good[:10] + bytes(b ^ 0xFF for b in good[10:40]) + good[40:])
    target = tmp_path / "model"
    with pytest.raises(ArtifactError) as info:
        extract(path, target)
    assert info.value.message.startswith(
        f"model artifact {URL} is not a valid gzip-compressed tar archive: "
    )
    assert not target.exists()


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    data = archive(tmp_path, file("a", os.urandom(20000))).read_bytes()
    path = tmp_path / "short.tar.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="is not a valid gzip-compressed tar archive"):
        extract(path, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_bad_gzip_checksum_is_detected(tmp_path: Path) -> None:
    data = bytearray(archive(tmp_path, file("a", b"payload")).read_bytes())
    data[-8] ^= 0xFF  # the CRC32 in gzip's trailer
    path = tmp_path / "crc.tar.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="CRC"):
        extract(path, tmp_path / "model")


@pytest.mark.parametrize("content", [b"this is a text file, not a tar\n" * 30, b""])
def test_not_a_tar_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(content)
    with pytest.raises(ArtifactError) as info:
        extract(path, tmp_path / "model")
    assert info.value.message.startswith(
        f"model artifact {URL} is not a valid gzip-compressed tar archive: the data is "
        "neither gzip-compressed nor a tar archive"
    )


def test_gzip_of_something_else_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(gzip.compress(b"just some text, no tar headers here\n" * 20))
    with pytest.raises(ArtifactError, match="is not a valid gzip-compressed tar archive: "):
        extract(path, tmp_path / "model")


def test_file_where_a_directory_is_needed_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, file("a"), file("a/b"), match="needs 'a' to be a directory")


def test_existing_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    with pytest.raises(ArtifactError, match="already exists"):
        extract(archive(tmp_path, file("a")), target)


class TickingClock:
    """Each reading is one second later than the previous one."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        self.t += 1.0
        return self.t

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
        self.t += seconds


def test_deadline_stops_extraction_and_names_the_setting(tmp_path: Path) -> None:
    path = archive(tmp_path, *[file(f"f{i}") for i in range(20)])
    target = tmp_path / "model"
    deadline = Deadline.after(5, TickingClock())
    with pytest.raises(ArtifactError, match=r"ModelDataDownloadTimeoutInSeconds \(5 s\)"):
        extract_archive(path, target, url=URL, deadline=deadline)
    assert not target.exists()
