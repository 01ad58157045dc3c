"""Local folders carried to Ray nodes through Ray's object store, cached per node.

A ``file://`` model artifact (or local code named by
``SAGEMAKER_SUBMIT_DIRECTORY``) exists on the server's machine only. The
server prepares it as the local fleet does (fetched, checked against the file
roots, unpacked: :mod:`moorage.fleet.artifact_preparer`), then
:func:`pack` turns the unpacked folder into one tar in memory, named by the
digest of its bytes. The fleet puts it in Ray's object store once per
folder; a node unpacks it (:func:`unpack`) into
``<node cache>/shipped/<digest>/`` unless that folder is already there, in
which case the object is never fetched to that node at all.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHIPPED = "shipped"


@dataclass(frozen=True)
class Shipped:
    """A packed folder: its digest, and (in a list, so Ray does not fetch it
    eagerly) the object reference of its tar bytes."""

    key: str
    refs: list[Any]


def pack(folder: Path) -> tuple[str, bytes]:
    """The folder as an uncompressed tar (paths relative to it) and its digest."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", dereference=True) as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    data = buffer.getvalue()
    return hashlib.sha256(data).hexdigest()[:32], data


def unpack(cache: Path, key: str, fetch: Any) -> Path:
    """``<cache>/shipped/<key>``, unpacked from ``fetch()``'s bytes if not there yet.

    Unpacked into a private temporary folder beside it and renamed into place,
    so a copy never sees half a folder and two copies unpacking the same key
    at once both end up with a whole one.
    """
    target = cache / SHIPPED / key
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    try:
        data: bytes = fetch()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(staging, filter="data")
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
