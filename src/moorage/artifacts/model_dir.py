"""Model directories: a model's data, ready for a model server to read.

:func:`materialize` is what the fleet (:mod:`moorage.fleet.prepare`) calls
before a copy starts. It fetches the data through the
:class:`~moorage.artifacts.cache.ArtifactCache` and lays it out as SageMaker
does under ``/opt/ml/model``: an archive extracted
(:mod:`moorage.artifacts.extract`), an uncompressed object as one file named
after the key's last component, a prefix as its objects at their relative
keys.

Model directories are shared and read-only by convention: they live at
``<cache root>/models/<digest of URL, layout and version>/``, so every copy of
one model version uses one extraction and a second copy starts after a single
HeadObject (or listing, or ``stat``). A changed artifact gets a new directory;
copies still running keep the old one. ``use_cache=False`` (an inference
component copy without ``DataCacheConfig.EnableCaching``) prepares the copy's
own: a remote artifact is downloaded again, past the download cache, and
extracted into a private directory under ``<cache root>/private/``, which the
caller hands back to :func:`release` when the copy stops.

A local directory (the ``file://`` extension) is used in place, as the
SageMaker SDK's local mode mounts it; with ``use_cache=False`` it is copied.
No model data at all gives an empty directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from moorage.artifacts.cache import PRIVATE_MARK, ArtifactCache, FetchedArtifact
from moorage.artifacts.deadline import Deadline
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.extract import ExtractLimits, extract_archive
from moorage.artifacts.fsutil import owned_name, remove, staged_dir, walk_following_links
from moorage.artifacts.locations import CompressionType, LocationKind, ModelSource, S3DataType

_EMPTY = "empty"


def materialize(
    source: ModelSource | str | None,
    cache: ArtifactCache,
    *,
    timeout_s: float,
    use_cache: bool = True,
    limits: ExtractLimits | None = None,
) -> Path:
    """A ready model directory for ``source`` (a ``ModelDataUrl`` if a string).

    ``timeout_s`` (the variant's ``ModelDataDownloadTimeoutInSeconds``) bounds
    downloading and extracting together. Raises :class:`ArtifactError`.
    """
    if isinstance(source, str):
        source = ModelSource.from_model_data_url(source)
    if source is None:
        return _empty(cache, use_cache=use_cache)
    deadline = cache.deadline(timeout_s)
    location = source.location
    prefix = source.data_type is S3DataType.PREFIX
    if use_cache and location.kind is LocationKind.LOCAL and location.local_path.is_dir():
        return location.local_path
    if use_cache:
        identity = cache.probe(location, prefix=prefix, expected_etag=source.expected_etag)
        ready = cache.models / _model_key(source, identity)
        if ready.is_dir():
            return ready
    with cache.opened(
        location,
        deadline=deadline,
        prefix=prefix,
        expected_etag=source.expected_etag,
        shared=use_cache,
    ) as fetched:
        if not use_cache:
            target = cache.private / owned_name(PRIVATE_MARK)
            _build(source, fetched, target, deadline, limits, link=False)
            return target
        target = cache.models / _model_key(source, fetched.identity)
        if not target.is_dir():
            _build(source, fetched, target, deadline, limits, link=True)
        return target


def release(model_dir: Path, cache: ArtifactCache) -> None:
    """Delete a private model directory (shared ones are left alone)."""
    if model_dir.parent == cache.private and model_dir.name.startswith(PRIVATE_MARK):
        remove(model_dir)


def _empty(cache: ArtifactCache, *, use_cache: bool) -> Path:
    if use_cache:
        path = cache.models / _EMPTY
        path.mkdir(parents=True, exist_ok=True)
        return path
    path = cache.private / owned_name(PRIVATE_MARK)
    path.mkdir(parents=True)
    return path


def _model_key(source: ModelSource, identity: str) -> str:
    text = "\0".join(
        (source.location.canonical, source.data_type.value, source.compression.value, identity)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _build(
    source: ModelSource,
    fetched: FetchedArtifact,
    target: Path,
    deadline: Deadline,
    limits: ExtractLimits | None,
    *,
    link: bool,
) -> None:
    """Lay ``fetched`` out as a model directory at ``target`` (atomically)."""
    url = source.url
    # Hard links share the download cache's (immutable, versioned) files
    # instead of copying gigabytes; only for shared directories, because a
    # private copy may be written to. User files are always copied.
    link = link and fetched.location.kind is LocationKind.S3
    if fetched.is_dir:
        with staged_dir(target) as temp:
            _copy_tree(url, fetched.path, temp, deadline, link=link)
    elif source.compression is CompressionType.GZIP:
        extract_archive(fetched.path, target, url=url, limits=limits, deadline=deadline)
    else:
        name = source.location.basename
        if not name or name in (".", ".."):
            raise ArtifactError(f"model artifact {url} has no usable file name", url=url)
        with staged_dir(target) as temp:
            try:
                _place(fetched.path, temp / name, link=link)
            except OSError as exc:
                raise _copy_failed(url, exc) from None


def _copy_tree(url: str, source: Path, dest: Path, deadline: Deadline, *, link: bool) -> None:
    # Symlinks are followed: a local model folder (a Hugging Face snapshot,
    # say) is often links into a blob store beside it.
    try:
        for directory, dirs, files in walk_following_links(source):
            deadline.check(url)
            rel = os.path.relpath(directory, source)
            here = dest if rel == "." else dest / rel
            for name in dirs:
                (here / name).mkdir(exist_ok=True)
            for name in files:
                _place(Path(directory) / name, here / name, link=link)
    except OSError as exc:
        raise _copy_failed(url, exc) from None


def _place(source: Path, dest: Path, *, link: bool) -> None:
    if link:
        try:
            os.link(source, dest)
            return
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    shutil.copyfile(source, dest)


def _copy_failed(url: str, exc: OSError) -> ArtifactError:
    return ArtifactError(
        f"model artifact {url} could not be copied into a model directory: {exc.strerror or exc}",
        url=url,
    )
