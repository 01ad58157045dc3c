"""Safe extraction of model archives (``.tar.gz`` and plain ``.tar``).

A model archive comes from a user's bucket, so it is treated as untrusted
input. :func:`extract_archive` writes every member itself instead of calling
``tarfile``'s extractor, and refuses the archive (leaving nothing behind) if
any member would land outside the target directory:

- absolute member names and names with a ``..`` component;
- symlinks with an absolute target or a target that resolves outside (checked
  when the link is made, and again over the whole tree at the end, because a
  later link can change where an earlier relative link points);
- hardlinks whose target is not a regular file already extracted inside;
- character and block devices and FIFOs (and any other special member);
- more than ``max_members`` members, or file data past ``max_bytes`` (the
  cap on unpacked data, ``moorage serve --max-unpacked-size``): a "tar bomb"
  that would fill the disk. Bytes are counted as they are written, so a
  header that understates a member's size gains nothing.

Free space is checked before the first write and while writing
(:class:`~moorage.artifacts.space.FreeSpaceReserve`); a full disk (or a
file size limit) stops the extraction with a message that says so.

Files are created with ``O_EXCL | O_NOFOLLOW`` under a parent whose real path
is checked to be inside, so no symlink can redirect a write. Modes are reduced
to ``0600``, or ``0700`` for a member with an execute bit, and directories are
``0700``: no setuid, and nothing for group or others, because the extraction
is a copy in the server's private cache (docs/data-dir.md) of data its
owner may not have meant for every local user.

The format is detected from content, not the name: gzip magic means a
gzip-compressed tar (its CRC is verified by reading the stream to its end),
anything else is tried as a plain tar. Extraction happens in a temporary
directory beside the target, renamed into place only when complete. The model
directory builder (:mod:`moorage.artifacts.model_dir`) is the caller.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn, TypeVar

from moorage.artifacts.deadline import Deadline
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.fsutil import is_inside, staged_dir
from moorage.artifacts.names import UnsafeName, archive_member_parts
from moorage.artifacts.space import (
    DEFAULT_MAX_UNPACKED_BYTES,
    FreeSpaceReserve,
    WriteBudget,
    os_error_cause,
)

# A model archive's unpacked size (see moorage.artifacts.space).
DEFAULT_MAX_EXTRACT_BYTES = DEFAULT_MAX_UNPACKED_BYTES
# Real model archives hold a few to a few thousand files; a million-entry
# archive is almost certainly an attack on the inode table.
DEFAULT_MAX_MEMBERS = 100_000

_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# What a broken archive raises while being read (gzip.BadGzipFile is an OSError).
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError)

T = TypeVar("T")


@dataclass(frozen=True)
class ExtractLimits:
    max_bytes: int = DEFAULT_MAX_EXTRACT_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS


def extract_archive(
    archive: Path,
    target: Path,
    *,
    url: str,
    limits: ExtractLimits | None = None,
    deadline: Deadline | None = None,
    reserve: FreeSpaceReserve | None = None,
) -> None:
    """Extract ``archive`` into the new directory ``target``, or raise and leave nothing.

    ``url`` names the artifact in error messages. ``target`` must not exist;
    if another writer creates it meanwhile, theirs is kept. ``reserve`` is
    the free space to leave on the disk (default: :class:`FreeSpaceReserve`).
    """
    if os.path.lexists(target):
        raise ArtifactError(f"cannot extract model artifact {url}: {target} already exists")
    limits = limits or ExtractLimits()
    try:
        with staged_dir(target) as temp:
            budget = WriteBudget(
                f"model artifact {url}",
                target.parent,
                max_bytes=limits.max_bytes,
                reserve=reserve or FreeSpaceReserve(),
                url=url,
            )
            _Extraction(url, temp, limits, deadline, budget).run(archive)
    except OSError as exc:
        # Making or renaming the temporary directory; writes inside are reported
        # member by member.
        raise ArtifactError(
            f"model artifact {url} could not be extracted: {os_error_cause(exc, target.parent)}",
            url=url,
        ) from None


class _Extraction:
    """One pass over one archive into one (temporary) directory."""

    def __init__(
        self,
        url: str,
        root: Path,
        limits: ExtractLimits,
        deadline: Deadline | None,
        budget: WriteBudget,
    ) -> None:
        self.url = url
        self.root = root
        self.real_root = os.path.realpath(root)
        self.limits = limits
        self.deadline = deadline
        self.budget = budget
        self.kind = "tar archive"
        self.members = 0

    def run(self, archive: Path) -> None:
        self.budget.start()
        try:
            raw = archive.open("rb")
        except OSError as exc:
            raise ArtifactError(
                f"model artifact {self.url} could not be read: {exc.strerror or exc}",
                url=self.url,
            ) from None
        with raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if gzipped:
                self.kind = "gzip-compressed tar archive"
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    self._extract_stream(stream)
                    # tar stops at its end-of-archive blocks; reading the
                    # rest verifies gzip's CRC and length trailer.
                    self._read(lambda: _drain(stream))
            else:
                self._extract_stream(raw)
        self._audit_links()

    def _extract_stream(self, stream: IO[bytes] | gzip.GzipFile) -> None:
        # Opened through _read so that a broken header becomes a clear error;
        # closed by the with-block right after.
        opener = lambda: tarfile.open(fileobj=stream, mode="r|")  # noqa: E731, SIM115
        with self._read(opener, opening=True) as tar:
            members = iter(tar)
            while True:
                member = self._read(lambda: next(members, None))
                if member is None:
                    return
                self._check_time()
                self.members += 1
                if self.members > self.limits.max_members:
                    self._reject(
                        f"it has more than {self.limits.max_members} members "
                        "(the limit on archive members)"
                    )
                self._member(tar, member)

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        try:
            parts = archive_member_parts(member.name)
        except UnsafeName as exc:
            self._reject(f"member {member.name!r} {exc}")
        if not parts:
            if member.isdir():
                return
            self._reject(f"member {member.name!r} names the archive root but is not a directory")
        if member.isdir():
            self._directory(member, parts)
        elif member.isfile():
            self._file(tar, member, parts)
        elif member.issym():
            self._symlink(member, parts)
        elif member.islnk():
            self._hardlink(member, parts)
        else:
            self._reject(
                f"member {member.name!r} is a {_type_name(member)}; device files, FIFOs "
                "and other special files are not allowed in model data"
            )

    # -- member kinds -------------------------------------------------------

    def _directory(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        path = self._parent(member, (*parts, ""))
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            self._reject(f"member {member.name!r} is a directory but another member is not")

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        if not self.budget.fits(member.size):
            # The header alone says it will not fit; the bytes written are
            # what is counted (below), whatever a header says.
            raise self.budget.over_cap()
        dest = self._leaf(member, parts)
        source = self._read(lambda: tar.extractfile(member))
        if source is None:
            self._reject(f"member {member.name!r} has no data")
        mode = 0o700 if member.mode & 0o111 else 0o600
        with self._writing(dest):
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in self._chunks(source):
                    self.budget.spend(len(chunk))
                    out.write(chunk)
                os.fchmod(out.fileno(), mode)
            with contextlib.suppress(OverflowError, OSError, ValueError):
                os.utime(dest, (member.mtime, member.mtime), follow_symlinks=False)

    def _symlink(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        target = member.linkname
        if not target or target.startswith("/"):
            self._reject(f"symlink member {member.name!r} points to an absolute path {target!r}")
        dest = self._leaf(member, parts)
        resolved = os.path.realpath(os.path.join(os.path.dirname(dest), target))
        if not is_inside(resolved, self.real_root):
            self._reject(
                f"symlink member {member.name!r} points outside the model directory ({target!r})"
            )
        with self._writing(dest):
            os.symlink(target, dest)

    def _hardlink(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        try:
            target_parts = archive_member_parts(member.linkname)
        except UnsafeName as exc:
            self._reject(f"hardlink member {member.name!r} has a target that {exc}")
        source = os.path.realpath(os.path.join(self.root, *target_parts))
        if not target_parts or not is_inside(source, self.real_root):
            self._reject(
                f"hardlink member {member.name!r} points outside the model directory "
                f"({member.linkname!r})"
            )
        if not os.path.isfile(source):
            self._reject(
                f"hardlink member {member.name!r} points to {member.linkname!r}, which is not "
                "a file extracted before it"
            )
        dest = self._leaf(member, parts)
        with self._writing(dest):
            os.link(source, dest, follow_symlinks=False)

    # -- placement ----------------------------------------------------------

    def _parent(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> Path:
        """Create the directories for ``parts[:-1]``; return the path ``parts`` names.

        Each intermediate directory must be a real directory or a symlink that
        resolves inside; the final real path of the parent is checked too.
        """
        current = self.root
        for name in parts[:-1]:
            current = current / name
            if current.is_symlink() or current.is_dir():
                continue
            if os.path.lexists(current):
                self._reject(
                    f"member {member.name!r} needs {name!r} to be a directory, but it is a file"
                )
            with self._writing(current):
                current.mkdir(mode=0o700)
        if not is_inside(os.path.realpath(current), self.real_root):
            self._reject(f"member {member.name!r} would be written outside the model directory")
        if not current.is_dir():
            self._reject(f"member {member.name!r} is below a member that is not a directory")
        return current / parts[-1] if parts[-1] else current

    def _leaf(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> Path:
        """The path for a file or link member; a previous non-directory entry is replaced."""
        dest = self._parent(member, parts)
        if dest.is_dir() and not dest.is_symlink():
            self._reject(f"member {member.name!r} is not a directory but another member is")
        if os.path.lexists(dest):
            # Later members replace earlier ones of the same name, as with tar;
            # unlink never follows a symlink.
            with self._writing(dest):
                dest.unlink()
        return dest

    def _audit_links(self) -> None:
        for directory, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = os.path.join(directory, name)
                if os.path.islink(path) and not is_inside(os.path.realpath(path), self.real_root):
                    rel = os.path.relpath(path, self.root)
                    self._reject(
                        f"symlink member {rel!r} resolves outside the model directory "
                        "once all members are in place"
                    )

    # -- plumbing -----------------------------------------------------------

    def _chunks(self, source: IO[bytes]) -> Iterator[bytes]:
        while True:
            self._check_time()
            chunk = self._read(lambda: source.read(_CHUNK))
            if not chunk:
                return
            yield chunk

    def _read(self, action: Callable[[], T], *, opening: bool = False) -> T:
        """Run one read from the archive, turning a broken archive into a clear error."""
        try:
            return action()
        except _READ_ERRORS as exc:
            detail = str(exc) or type(exc).__name__
            if opening and self.kind == "tar archive":
                # Neither gzip magic nor a tar header: say what was expected.
                detail = f"the data is neither gzip-compressed nor a tar archive ({detail})"
                kind = "gzip-compressed tar archive"
            else:
                kind = self.kind
            raise ArtifactError(
                f"model artifact {self.url} is not a valid {kind}: {detail}", url=self.url
            ) from None
        except OSError as exc:
            raise ArtifactError(
                f"model artifact {self.url} could not be read: {exc.strerror or exc}",
                url=self.url,
            ) from None

    def _check_time(self) -> None:
        if self.deadline is not None:
            self.deadline.check(self.url)

    @contextlib.contextmanager
    def _writing(self, path: Path) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            rel = os.path.relpath(path, self.root)
            raise ArtifactError(
                f"model artifact {self.url} could not be extracted: writing {rel!r} failed: "
                f"{os_error_cause(exc, self.root.parent)}",
                url=self.url,
            ) from None

    def _reject(self, why: str) -> NoReturn:
        raise ArtifactError(f"model artifact {self.url} was rejected: {why}", url=self.url)


def _drain(stream: gzip.GzipFile) -> None:
    while stream.read(_CHUNK):
        pass


def _type_name(member: tarfile.TarInfo) -> str:
    if member.ischr():
        return "character device"
    if member.isblk():
        return "block device"
    if member.isfifo():
        return "FIFO"
    return f"special file (tar type {member.type!r})"
