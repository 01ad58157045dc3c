"""Confining local paths named through the API to a few directories.

``moorage serve --file-root DIR`` (repeatable; :attr:`Settings.file_roots
<moorage.settings.Settings.file_roots>`) names the only directories whose
files the API may point moorage at: ``file://`` URLs and absolute paths used
as model data, code locations and capture destinations, and the paths in
environment variables that redirect where a model server's interpreter or
dynamic loader reads code from (:data:`LOADER_VARIABLES`). A path counts as
inside when its real path (symlinks resolved, ``..`` normalised) is a root or
below one. With no roots nothing is confined, as before.

:class:`FileRoots` is pure apart from resolving paths. The control layer
(:mod:`moorage.control.location_checks`) turns a :class:`OutsideRoots` into a
``ValidationException`` when a resource is created; the fleet checks model
data and environments again when a copy starts, for resources stored before
the server was given its roots. ``SAGEMAKER_PROGRAM`` is checked with or
without roots (:func:`program_problem`): it names a file in the model's
``code/`` directory and may not climb out of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

# Variables that name where a process loads code from, and how each lists
# its paths: "paths" is an os.pathsep list, "libraries" also accepts spaces
# (LD_PRELOAD) and bare library names, looked up in the library search path
# (itself confined through LD_LIBRARY_PATH) rather than named as files.
LOADER_VARIABLES: Mapping[str, str] = {
    "PYTHONPATH": "paths",
    "PYTHONHOME": "paths",
    "PYTHONSTARTUP": "paths",
    "PYTHONUSERBASE": "paths",
    "PYTHONPYCACHEPREFIX": "paths",
    "PYTHONEXECUTABLE": "paths",
    "LD_LIBRARY_PATH": "paths",
    "LD_PRELOAD": "libraries",
    "LD_AUDIT": "libraries",
    "GCONV_PATH": "paths",
    "LOCPATH": "paths",
    "OPENSSL_CONF": "paths",
    "OPENSSL_ENGINES": "paths",
    "OPENSSL_MODULES": "paths",
    "DYLD_LIBRARY_PATH": "paths",
    "DYLD_FALLBACK_LIBRARY_PATH": "paths",
    "DYLD_FRAMEWORK_PATH": "paths",
    "DYLD_FALLBACK_FRAMEWORK_PATH": "paths",
    "DYLD_INSERT_LIBRARIES": "libraries",
}

# The SageMaker SDK sets this to the model's code directory as a container
# sees it (a repacked model) or to an S3 URL; only a local one is confined.
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
# A container's view of its own model directory: moorage's model server
# reads the model's code/ from the model directory whatever this says.
CONTAINER_MODEL_DIR = PurePosixPath("/opt/ml/model")
PROGRAM = "SAGEMAKER_PROGRAM"


class OutsideRoots(Exception):
    """A location or variable names a path outside the roots (the message says which)."""


@dataclass(frozen=True)
class FileRoots:
    """The real paths of the allowed directories; empty means no confinement.

    ``excluded`` (the server's data dir, which holds its database and API
    credentials) stays out of reach even when a root contains it.
    """

    roots: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @classmethod
    def of(cls, paths: Iterable[Path | str], *, exclude: Iterable[Path | str] = ()) -> FileRoots:
        return cls(
            tuple(dict.fromkeys(os.path.realpath(p) for p in paths)),
            tuple(dict.fromkeys(os.path.realpath(p) for p in exclude)),
        )

    @property
    def confined(self) -> bool:
        return bool(self.roots)

    def describe(self) -> str:
        return ", ".join(self.roots)

    def contains(self, path: str) -> bool:
        """Whether the absolute ``path`` resolves to a root or below one."""
        real = os.path.realpath(path)
        if any(_under(real, excluded) for excluded in self.excluded):
            return False
        return any(_under(real, root) for root in self.roots)

    def check_location(self, member: str, url: str) -> None:
        """A model data URL, code location or capture destination (S3 passes)."""
        if not self.confined:
            return
        path = local_path(url)
        if path is None:
            return
        if not path.startswith("/"):
            raise OutsideRoots(
                f"{member} {url} is not an absolute path; this server only reads and writes "
                f"local files under its file roots ({self.describe()})."
            )
        self._check(member, url, path)

    def check_environment(self, member: str, environment: Mapping[str, str]) -> None:
        """Paths in variables that redirect the interpreter or the loader (see the module)."""
        if not self.confined:
            return
        for name in sorted(environment):
            value = environment[name]
            where = f"{member}.{name}"
            if name == SUBMIT_DIRECTORY:
                path = local_path(value)
                if path is not None and not _container_model_dir(path):
                    self.check_location(where, value)
                continue
            style = LOADER_VARIABLES.get(name)
            if style is None:
                continue
            if not value:
                continue  # names no path at all
            for entry in _entries(value, libraries=style == "libraries"):
                self._check_entry(where, value, entry, libraries=style == "libraries")

    def _check_entry(self, where: str, value: str, entry: str, *, libraries: bool) -> None:
        if "$" in entry:
            why = f"has {entry!r}, whose $ token the loader would expand"
        elif libraries and "/" not in entry:
            return  # a library name, found through the (confined) search path
        elif not entry:
            why = "has an empty entry, which means the current directory"
        elif not entry.startswith("/"):
            why = f"has {entry!r}, which is not an absolute path"
        else:
            self._check(where, repr(value), entry)
            return
        raise OutsideRoots(
            f"{where} ({value!r}) {why}; with file roots every path it names must lie "
            f"under one of them ({self.describe()})."
        )

    def _check(self, member: str, shown: str, path: str) -> None:
        if self.contains(path):
            return
        real = os.path.realpath(path)
        resolved = "" if real == path else f" (it resolves to {real})"
        inside = [excluded for excluded in self.excluded if _under(real, excluded)]
        if inside:
            raise OutsideRoots(
                f"{member} {shown} names {path}{resolved}, which is inside the server's data "
                f"dir ({inside[0]}); requests may not name files there."
            )
        raise OutsideRoots(
            f"{member} {shown} names {path}{resolved}, which is outside the file roots of "
            f"this server ({self.describe()})."
        )


def local_path(url: str) -> str | None:
    """The path a ``file://`` URL or plain path names; None for any other scheme."""
    if url.startswith("/"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        # Not a URL at all (e.g. an unclosed "[" host): nothing local to confine;
        # the location's own check refuses it.
        return None
    if parts.scheme.lower() == "file":
        return unquote(parts.path)
    if not parts.scheme:
        # A relative path: local, but not absolute (refused when confined).
        return url
    return None


def program_problem(value: str) -> str | None:
    """Why ``SAGEMAKER_PROGRAM`` cannot name a file in ``code/``, or None if it can."""
    if not value:
        return None
    if "\0" in value:
        return "contains a NUL character"
    path = PurePosixPath(value)
    if path.is_absolute():
        return "is an absolute path; it must name a file in the model's code/ directory"
    if ".." in path.parts:
        return "contains '..'; it must name a file in the model's code/ directory"
    return None


def _entries(value: str, *, libraries: bool) -> list[str]:
    text = value.replace(" ", os.pathsep) if libraries else value
    entries = text.split(os.pathsep)
    if libraries:
        # ld.so skips empty entries of LD_PRELOAD/LD_AUDIT.
        return [e for e in entries if e]
    return entries


def _under(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _container_model_dir(path: str) -> bool:
    normalised = PurePosixPath(os.path.normpath(path))
    return normalised == CONTAINER_MODEL_DIR or CONTAINER_MODEL_DIR in normalised.parents
