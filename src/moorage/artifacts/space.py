"""Disk space for model data: the unpacked-size cap, the free-space reserve, a full disk.

Model data comes from users' buckets and may be hostile: a small
``model.tar.gz`` can unpack to terabytes (a decompression bomb), and a large
honest model can still fill the disk that holds moorage's database. Three
guards keep the disk usable, shared by the download cache
(:mod:`moorage.artifacts.s3`, :mod:`moorage.artifacts.cache`), the extractor
(:mod:`moorage.artifacts.extract`), the model directory builder
(:mod:`moorage.artifacts.model_dir`) and the requirements installer
(:mod:`moorage.artifacts.requirements`):

- **the cap** on what one artifact unpacks to (``moorage serve
  --max-unpacked-size``), counted as bytes are actually written, not as
  headers announce them; a :class:`WriteBudget` stops the writer as soon as
  it is crossed;
- **the reserve**: a :class:`FreeSpaceReserve` refuses to start writing, and
  stops a writer, once the free space of the disk would fall below 1 GiB (or
  5 % of the filesystem, if that is less). It is probed before writing and
  then every ``check_every_bytes``; the probe is injectable, so the rule is
  tested without filling a disk;
- **a full disk** anyway (``ENOSPC``; also ``EDQUOT`` and ``EFBIG``, a quota
  or a file size limit, which stop a writer the same way):
  :func:`os_error_cause` turns the ``OSError`` into words for the endpoint's
  ``FailureReason``.

Callers remove what they wrote when these raise (everything is built under a
temporary name, see :mod:`moorage.artifacts.fsutil`).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moorage.artifacts.errors import ArtifactError
from moorage.sizes import format_size

GIB = 1024**3
MIB = 1024**2
# What one artifact may unpack to unless `moorage serve --max-unpacked-size` says
# otherwise: room for most models shipped as one archive (a 7B-parameter
# model in 16-bit weights is ~14 GiB), small enough that a decompression bomb
# is stopped long before it fills a typical disk.
DEFAULT_MAX_UNPACKED_BYTES = 20 * GIB
# The free space kept for everything else on the disk (the database, logs,
# capture files): 1 GiB, or 5 % of the filesystem if that is less, so that a
# small disk is not refused outright.
DEFAULT_RESERVE_BYTES = GIB
DEFAULT_RESERVE_FRACTION = 0.05
# How often a writer re-probes free space: often enough that it overshoots the
# reserve by at most this much, rarely enough to cost nothing next to the writes.
DEFAULT_CHECK_EVERY_BYTES = 16 * MIB
CAP_OPTION = "moorage serve --max-unpacked-size"

# How each "no room" error reads; {where} is "the disk holding <directory>".
_DISK_FULL = {
    errno.ENOSPC: "{where} is full",
    errno.EDQUOT: "the quota on {where} is used up",
    errno.EFBIG: "a file size limit stopped a write to {where}",
}


@dataclass(frozen=True)
class DiskSpace:
    free: int  # bytes available to moorage's user
    total: int  # size of the filesystem


DiskProbe = Callable[[Path], DiskSpace]


def disk_space(path: Path) -> DiskSpace:
    """The real probe: ``statvfs`` of the filesystem holding ``path``."""
    usage = shutil.disk_usage(path)
    return DiskSpace(free=usage.free, total=usage.total)


@dataclass(frozen=True)
class FreeSpaceReserve:
    """How much free space writers of model data leave on a disk."""

    min_bytes: int = DEFAULT_RESERVE_BYTES
    fraction: float = DEFAULT_RESERVE_FRACTION
    check_every_bytes: int = DEFAULT_CHECK_EVERY_BYTES
    probe: DiskProbe = field(default=disk_space, compare=False)

    def required(self, total: int) -> int:
        """The bytes to keep free on a filesystem of ``total`` bytes."""
        return min(self.min_bytes, int(total * self.fraction))

    def check(
        self, subject: str, directory: Path, need: int = 0, *, url: str | None = None
    ) -> None:
        """Raise unless ``need`` more bytes fit in ``directory``'s disk above the reserve.

        ``subject`` starts the message (``model artifact s3://b/k``).
        """
        try:
            space = self.probe(directory)
        except OSError as exc:
            raise ArtifactError(
                f"{subject} could not be stored: the free space of the disk holding "
                f"{directory} could not be read: {exc.strerror or exc}",
                url=url,
            ) from None
        keep = self.required(space.total)
        if space.free - need >= keep:
            return
        free = f"{format_size(max(0, space.free))} ({max(0, space.free)} bytes)"
        if need:
            detail = (
                f"it needs {format_size(need)} and only {free} are free, of which moorage "
                f"keeps {format_size(keep)} free"
            )
        else:
            detail = f"only {free} are free and moorage keeps at least {format_size(keep)} free"
        raise ArtifactError(
            f"{subject} could not be stored: not enough disk space on the disk holding "
            f"{directory}: {detail}",
            url=url,
        )


class WriteBudget:
    """Counts the bytes written for one artifact; stops at the cap or the reserve.

    ``subject`` starts messages; ``directory`` is where the bytes go (its
    disk is probed). Call :meth:`start` before writing and :meth:`spend`
    before each write.
    """

    def __init__(
        self,
        subject: str,
        directory: Path,
        *,
        max_bytes: int,
        reserve: FreeSpaceReserve,
        what: str = "unpacks to",
        url: str | None = None,
    ) -> None:
        self.subject = subject
        self.url = url
        self.directory = directory
        self.max_bytes = max_bytes
        self.reserve = reserve
        self.what = what
        self.written = 0
        self._next_probe = 0

    def start(self, need: int = 0) -> None:
        """Check, before anything is written, that the reserve allows ``need`` bytes."""
        self.reserve.check(self.subject, self.directory, need, url=self.url)
        self._next_probe = self.written + self.reserve.check_every_bytes

    def fits(self, size: int) -> bool:
        """Whether ``size`` more bytes stay within the cap (to refuse before writing)."""
        return self.written + size <= self.max_bytes

    def spend(self, size: int) -> None:
        """Account for ``size`` bytes about to be written; raise past the cap or the reserve."""
        self.written += size
        if self.written > self.max_bytes:
            raise self.over_cap()
        if self.written >= self._next_probe:
            self.reserve.check(self.subject, self.directory, url=self.url)
            self._next_probe = self.written + self.reserve.check_every_bytes

    def over_cap(self) -> ArtifactError:
        return cap_error(self.subject, self.max_bytes, self.what, self.url)


def cap_error(
    subject: str, max_bytes: int, what: str = "unpacks to", url: str | None = None
) -> ArtifactError:
    exact = f" ({max_bytes} bytes)" if max_bytes >= 1024 else ""
    return ArtifactError(
        f"{subject} was rejected: it {what} more than {format_size(max_bytes)}{exact}, "
        f"the limit on a model's unpacked data ({CAP_OPTION})",
        url=url,
    )


def is_disk_full(exc: OSError) -> bool:
    """Whether ``exc`` says the disk (or a quota, or a file size limit) has no room."""
    return exc.errno in _DISK_FULL


def os_error_cause(exc: OSError, directory: Path | str | None = None) -> str:
    """The cause of a failed write in words, naming the disk when it is full."""
    strerror = exc.strerror or str(exc)
    template = _DISK_FULL.get(exc.errno or 0)
    if template is None:
        return strerror
    where = f"the disk holding {directory}" if directory is not None else "the disk"
    return f"{template.format(where=where)} ({strerror})"


def tree_size(root: Path) -> int:
    """Bytes of the files under ``root`` (links not followed; what a cap counts)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue  # removed meanwhile
    return total
