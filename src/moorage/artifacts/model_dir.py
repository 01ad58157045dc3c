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

Whatever lands in a model directory counts against the unpacked-size cap
(``limits.max_bytes``) and leaves the cache's free-space reserve free
(:mod:`moorage.artifacts.space`): an archive's extracted files, an
uncompressed object or prefix (refused before it is downloaded), a local
file or folder copied in. Hard links into the download cache cost nothing
and count nothing. An archive that could not be extracted is not kept in
the download cache.
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
from moorage.artifacts.space import FreeSpaceReserve, WriteBudget, os_error_cause

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
    try:
        return _materialize(source, cache, timeout_s, use_cache, limits or ExtractLimits())
    except OSError as exc:
        # A mkdir or rename of the cache's own that failed (a full disk,
        # most likely); the writes themselves report their errors on their own.
        what = f"model artifact {source.url}" if source is not None else "the model directory"
        raise ArtifactError(
            f"{what} could not be prepared: {os_error_cause(exc, cache.root)}",
            url=source.url if source is not None else None,
        ) from None


def _materialize(
    source: ModelSource | None,
    cache: ArtifactCache,
    timeout_s: float,
    use_cache: bool,
    limits: ExtractLimits,
) -> Path:
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
    archive = source.compression is CompressionType.GZIP and not prefix
    with cache.opened(
        location,
        deadline=deadline,
        prefix=prefix,
        expected_etag=source.expected_etag,
        shared=use_cache,
        # Uncompressed data is the model directory as downloaded: refuse it
        # before the transfer if it is over the cap.
        max_bytes=None if archive else limits.max_bytes,
    ) as fetched:
        if not use_cache:
            target = cache.private / owned_name(PRIVATE_MARK)
        else:
            target = cache.models / _model_key(source, fetched.identity)
            if target.is_dir():
                return target
        try:
            _build(source, fetched, target, deadline, limits, cache.reserve, link=use_cache)
        except ArtifactError:
            # A bomb, a corrupt or unsafe archive, or a full disk: keeping the
            # download only holds space. (After a timeout it is kept for the retry.)
            if archive and deadline.remaining() > 0:
                cache.discard(fetched)
            raise
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
    limits: ExtractLimits,
    reserve: FreeSpaceReserve,
    *,
    link: bool,
) -> None:
    """Lay ``fetched`` out as a model directory at ``target`` (atomically)."""
    url = source.url
    # Hard links share the download cache's (immutable, versioned) files
    # instead of copying gigabytes; only for shared directories, because a
    # private copy may be written to. User files are always copied.
    link = link and fetched.location.kind is LocationKind.S3
    if source.compression is CompressionType.GZIP and not fetched.is_dir:
        extract_archive(
            fetched.path, target, url=url, limits=limits, deadline=deadline, reserve=reserve
        )
        return
    budget = WriteBudget(
        f"model artifact {url}", target.parent, max_bytes=limits.max_bytes, reserve=reserve, url=url
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    budget.start()
    if fetched.is_dir:
        with staged_dir(target) as temp:
            _copy_tree(url, fetched.path, temp, deadline, budget, link=link)
        return
    name = source.location.basename
    if not name or name in (".", ".."):
        raise ArtifactError(f"model artifact {url} has no usable file name", url=url)
    with staged_dir(target) as temp:
        try:
            _place(fetched.path, temp / name, budget, link=link)
        except OSError as exc:
            raise _copy_failed(url, exc, target) from None


def _copy_tree(
    url: str, source: Path, dest: Path, deadline: Deadline, budget: WriteBudget, *, link: bool
) -> None:
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
                _place(Path(directory) / name, here / name, budget, link=link)
    except OSError as exc:
        raise _copy_failed(url, exc, dest) from None


def _place(source: Path, dest: Path, budget: WriteBudget, *, link: bool) -> None:
    if link:
        try:
            os.link(source, dest)
            return  # shares the download's blocks: nothing new is written
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    budget.spend(os.stat(source).st_size)
    shutil.copyfile(source, dest)


def _copy_failed(url: str, exc: OSError, dest: Path) -> ArtifactError:
    return ArtifactError(
        f"model artifact {url} could not be copied into a model directory: "
        f"{os_error_cause(exc, dest.parent)}",
        url=url,
    )
