"""Where log streams live on disk: one file per stream under ``<data dir>/logs``.

Each endpoint keeps its folder, ``logs/<EndpointName>/``, holding the streams
of its variants' instances and of the inference components it hosts::

    logs/<EndpointName>/<Variant>.<instance-id>.log
        group /aws/sagemaker/Endpoints/<EndpointName>, stream <Variant>/<instance-id>
    logs/<EndpointName>/<Variant>.<instance-id>.<container>.log
        the same group, stream <Variant>/<instance-id>/<container> (a container of a
        multi-container model)
    logs/<EndpointName>/<Component>.<Variant>.<instance-id>.<copy>.log
        group /aws/sagemaker/InferenceComponents/<Component>,
        stream <Variant>/<instance-id>/<copy>

SageMaker's names hold no dots, so the dot-separated parts of a file name say
unambiguously which group and stream it is. Files of another shape (the
``<copy-id>.log`` files of older versions, which have no timestamps) are
not streams and are ignored. Everything here only lists and names files;
:mod:`moorage.logs.collector` writes them, :mod:`moorage.logs.stream_file`
reads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from moorage.logs.names import (
    GroupKind,
    GroupName,
    component_group,
    endpoint_group,
    is_name,
    stream_parts,
)

LOGS_DIR = "logs"  # under the data dir
SUFFIX = ".log"


@dataclass(frozen=True)
class StreamFile:
    """One stream's file."""

    group: GroupName
    stream: str
    path: Path


def stream_path(logs_root: Path, endpoint: str, component: str | None, stream: str) -> Path:
    """The file of ``stream`` of the endpoint's group, or of ``component``'s on that endpoint."""
    name = stream.replace("/", ".") + SUFFIX
    if component is not None:
        name = f"{component}.{name}"
    return logs_root / endpoint / name


def parse_file_name(name: str) -> tuple[GroupName | None, str]:
    """(group, stream) a file in an endpoint's folder holds; group None for other files.

    The group of a variant stream is the folder's endpoint, which the caller
    knows: it comes back with ``resource`` empty.
    """
    if not name.endswith(SUFFIX):
        return None, ""
    parts = name[: -len(SUFFIX)].split(".")
    if len(parts) in (2, 3):
        group, stream = endpoint_group(""), "/".join(parts)
    elif len(parts) == 4 and is_name(parts[0]):
        group, stream = component_group(parts[0]), "/".join(parts[1:])
    else:
        return None, ""
    if stream_parts(group, stream) is None:
        return None, ""
    return group, stream


def _folders(logs_root: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(logs_root) as entries:
            folders = [e for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    yield from folders


def _files(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return [e for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        return []


def all_streams(logs_root: Path) -> Iterator[StreamFile]:
    """Every stream file under ``logs_root``."""
    for folder in _folders(logs_root):
        if not is_name(folder.name):
            continue
        for entry in _files(Path(folder.path)):
            group, stream = parse_file_name(entry.name)
            if group is None:
                continue
            if group.kind == GroupKind.ENDPOINT:
                group = endpoint_group(folder.name)
            yield StreamFile(group, stream, Path(entry.path))


def group_streams(logs_root: Path, group: GroupName) -> list[StreamFile]:
    """The stream files of ``group`` (none if it has none: then it does not exist)."""
    if group.kind == GroupKind.ENDPOINT:
        # Compare listed names, so that a case-insensitive disk does not find
        # "myep" when asked for "MyEp" (group names are case-sensitive).
        folders = [f for f in _folders(logs_root) if f.name == group.resource]
    else:
        folders = list(_folders(logs_root))
    found: list[StreamFile] = []
    for folder in folders:
        for entry in _files(Path(folder.path)):
            kind, stream = parse_file_name(entry.name)
            if kind is None or kind.kind != group.kind:
                continue
            if group.kind == GroupKind.COMPONENT and kind.resource != group.resource:
                continue
            found.append(StreamFile(group, stream, Path(entry.path)))
    return found
