"""Rules for the relative file names model data may create.

Two sources name files inside a model directory: tar archive members
(:mod:`moorage.artifacts.extract`) and the object keys under an S3 prefix
(:mod:`moorage.artifacts.cache`). Both are split here into path components
that are safe to join under a directory: never absolute, never ``..``.

Archive names are read leniently, the way ``tar`` does (``./a//b/`` is
``a/b``). Prefix keys follow SageMaker's documented rules for uncompressed
model data: no empty, ``.`` or ``..`` component, no NUL, no component over
255 bytes, and no name that is both a file and a directory.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_COMPONENT_BYTES = 255


class UnsafeName(ValueError):
    """A name that cannot be placed under a directory; the message says why."""


def archive_member_parts(name: str) -> tuple[str, ...]:
    """The components of an archive member name (``()`` for the root itself)."""
    if "\x00" in name:
        raise UnsafeName("contains a NUL character")
    if name.startswith("/"):
        raise UnsafeName("is an absolute path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UnsafeName("contains a '..' component")
    for part in parts:
        _check_length(part)
    return parts


def prefix_key_parts(relative_key: str) -> tuple[str, ...]:
    """The components of an object key relative to its prefix (SageMaker's rules)."""
    parts = tuple(relative_key.split("/"))
    for part in parts:
        if not part.strip():
            raise UnsafeName(
                "has an empty or blank path component (keys ending in '/' are folder "
                "markers, which SageMaker does not allow in model data)"
            )
        if part in (".", ".."):
            raise UnsafeName(f"has a '{part}' path component")
        if "\x00" in part:
            raise UnsafeName("contains a NUL character")
        _check_length(part)
    return parts


def find_clash(names: Iterable[tuple[str, ...]]) -> tuple[str, ...] | None:
    """A name that is also a parent directory of another name, if any."""
    files = set()
    directories = set()
    for parts in names:
        files.add(parts)
        for depth in range(1, len(parts)):
            directories.add(parts[:depth])
    clashes = sorted(files & directories)
    return clashes[0] if clashes else None


def _check_length(part: str) -> None:
    if len(part.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_BYTES:
        raise UnsafeName(f"has a path component longer than {MAX_COMPONENT_BYTES} bytes")
