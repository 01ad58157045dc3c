"""Small filesystem helpers that make the artifact cache crash- and race-safe.

Everything the cache (:mod:`moorage.artifacts.cache`), the extractor
(:mod:`moorage.artifacts.extract`), the model directory builder
(:mod:`moorage.artifacts.model_dir`) and the requirements installer
(:mod:`moorage.artifacts.requirements`) publish is first built under a
temporary name beside its final place and then renamed into place, so a
reader sees either nothing or a complete entry, and a failure leaves nothing
behind. Temporary names carry the writer's pid so that :func:`sweep_stale`
can remove what a crashed process left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

_TMP_MARK = ".partial-"


def temp_name(final: Path) -> Path:
    """A unique temporary sibling of ``final`` (same filesystem, so rename is atomic)."""
    return final.with_name(f"{owned_name(_TMP_MARK)}-{final.name}")


def publish(temp: Path, final: Path) -> bool:
    """Rename ``temp`` to ``final``; False (and ``temp`` removed) if ``final`` won a race."""
    try:
        os.rename(temp, final)
    except OSError:
        if not os.path.lexists(final):
            raise
        remove(temp)
        return False
    return True


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Build a directory under a temporary name; on success rename it to ``final``.

    On any exception the temporary directory is removed and ``final`` is left
    untouched. If another writer published ``final`` first, ours is dropped
    (the contents are the same by construction of the cache keys).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_name(final)
    temp.mkdir(mode=0o700)
    try:
        yield temp
    except BaseException:
        remove(temp)
        raise
    publish(temp, final)


def remove(path: Path) -> None:
    """Delete a file, link or tree, whatever it is; missing is fine."""
    if path.is_dir() and not path.is_symlink():
        # Extracted trees may hold read-only directories; make them writable
        # so that rmtree can empty them.
        def _retry(func: object, target: str, _exc: object) -> None:
            with contextlib.suppress(OSError):
                os.chmod(os.path.dirname(target), 0o700)
                if callable(func):
                    func(target)

        shutil.rmtree(path, onerror=_retry)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def make_private(root: Path) -> None:
    """Take group and other permission bits off ``root`` and everything below it.

    For trees other programs wrote with modes of their own choosing (pip marks
    scripts and executables ``r-x`` for everyone, whatever the umask); the
    cache is private to the server's user (docs/data-dir.md). Symlinks are
    neither followed nor changed.
    """
    for directory, dirs, files in os.walk(root):
        for name in (os.curdir, *dirs, *files):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


def is_inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both already real paths)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def owned_name(mark: str) -> str:
    """A unique entry name that records this process as its owner (see :func:`sweep_stale`)."""
    return f"{mark}{os.getpid()}-{uuid.uuid4().hex[:12]}"


def sweep_stale(directory: Path, mark: str = _TMP_MARK) -> int:
    """Remove entries named ``<mark><pid>-…`` whose process no longer runs."""
    removed = 0
    if not directory.is_dir():
        return 0
    for entry in directory.iterdir():
        if not entry.name.startswith(mark):
            continue
        pid_text = entry.name[len(mark) :].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            remove(entry)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def walk_following_links(root: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` that follows directory symlinks but enters each directory once.

    Local model folders are often links into a store beside them; a link back
    to an ancestor must not make the walk endless.
    """
    seen: set[tuple[int, int]] = set()
    for directory, dirs, files in os.walk(root, followlinks=True):
        info = os.stat(directory)
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs.sort()
        files.sort()
        yield directory, dirs, files
