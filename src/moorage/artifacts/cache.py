"""The download cache: one local copy of each remote artifact, revalidated.

:class:`ArtifactCache` turns a location (:mod:`moorage.artifacts.locations`)
into a local file or directory. S3 objects are revalidated with HeadObject
and kept under their ETag; S3 prefixes are revalidated with a listing and
kept under a digest of every key, ETag and size; so a second fetch of an
unchanged artifact transfers nothing and a changed one is fetched again.
Local files and directories are not copied: their identity is their size,
modification time and inode (for a directory, those of every file in it).

On disk, under ``root``::

    downloads/<sha256(url)[:32]>/url.txt           the URL, for people
    downloads/<sha256(url)[:32]>/<version>.obj     an object's bytes
    downloads/<sha256(url)[:32]>/<version>.dir/    a prefix's objects
    downloads/<sha256(url)[:32]>/.partial-<pid>-…  a download in progress

``<version>`` is a digest of the identity; when a new version is published
the older ones of that URL are deleted. A *private* fetch (``shared=False``,
for a copy that does not cache: ``DataCacheConfig.EnableCaching`` false)
downloads into ``private/copy-<pid>-…/`` instead, and that folder is deleted
as soon as the caller has read it. Writes go to a temporary name and are
renamed into place, and a per-URL lock (:mod:`moorage.artifacts.locks`) keeps
two threads from downloading the same artifact at once. Downloads leave the
disk's free-space reserve free (:mod:`moorage.artifacts.space`); a caller
may also cap one download at the unpacked-size cap (``max_bytes``), for data
that is used as it is downloaded. The model directory
builder (:mod:`moorage.artifacts.model_dir`) is the main caller and reads
through :meth:`ArtifactCache.opened`, which holds that lock while it reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from moorage.artifacts.deadline import Deadline
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.fsutil import (
    owned_name,
    publish,
    remove,
    staged_dir,
    sweep_stale,
    temp_name,
    walk_following_links,
)
from moorage.artifacts.locations import ArtifactLocation, LocationKind
from moorage.artifacts.locks import lock_for
from moorage.artifacts.names import UnsafeName, find_clash, prefix_key_parts
from moorage.artifacts.s3 import S3ClientFactory, S3Object, S3Reader, check_size
from moorage.artifacts.space import FreeSpaceReserve, cap_error, os_error_cause
from moorage.clock import Clock, SystemClock

# One model's data, downloaded: room for today's large open-weight models
# (S3Prefix, uncompressed), while a prefix that accidentally names a whole
# data lake is refused before anything is transferred.
DEFAULT_MAX_DOWNLOAD_BYTES = 256 * 1024**3
DEFAULT_MAX_OBJECTS = 100_000
# Parallel GetObject calls for a prefix: enough to hide per-request latency
# for many small files without competing with the model servers for the CPU.
DEFAULT_PREFIX_WORKERS = 4
# Private model directories are named "copy-<pid>-<random>" so that a sweep
# can remove those of processes that died.
PRIVATE_MARK = "copy-"


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    max_objects: int = DEFAULT_MAX_OBJECTS


@dataclass(frozen=True)
class FetchedArtifact:
    """A local copy of an artifact.

    ``path`` is a file or (for a prefix or a local directory) a directory;
    ``identity`` names the version (e.g. ``etag:"..."``), and ``downloaded``
    says whether this fetch transferred it (False on a cache hit and for local
    locations, which are read in place).
    """

    location: ArtifactLocation
    path: Path
    identity: str
    is_dir: bool
    downloaded: bool


class ArtifactCache:
    """Fetches artifacts into ``root``; thread-safe; sync (run it in a worker thread)."""

    def __init__(
        self,
        root: Path,
        s3_client_factory: S3ClientFactory | None = None,
        *,
        limits: FetchLimits | None = None,
        clock: Clock | None = None,
        prefix_workers: int = DEFAULT_PREFIX_WORKERS,
        reserve: FreeSpaceReserve | None = None,
    ) -> None:
        self.root = root
        self.limits = limits or FetchLimits()
        self.reserve = reserve or FreeSpaceReserve()
        self.clock: Clock = clock or SystemClock()
        self.prefix_workers = max(1, prefix_workers)
        self.s3 = S3Reader(s3_client_factory)

    @property
    def downloads(self) -> Path:
        """Downloaded objects and prefixes, one folder per URL."""
        return self.root / "downloads"

    @property
    def models(self) -> Path:
        """Shared model directories (:mod:`moorage.artifacts.model_dir`)."""
        return self.root / "models"

    @property
    def private(self) -> Path:
        """Model directories private to one copy (``use_cache=False``)."""
        return self.root / "private"

    def deadline(self, timeout_s: float) -> Deadline:
        return Deadline.after(timeout_s, self.clock)

    def lock(self, *key: str) -> threading.Lock:
        """The process-wide lock for ``key`` under this cache's root."""
        return lock_for(str(self.root.resolve()), *key)

    # -- public API ---------------------------------------------------------

    def probe(
        self, location: ArtifactLocation, *, prefix: bool = False, expected_etag: str | None = None
    ) -> str:
        """The artifact's current identity, without downloading it."""
        if location.kind is LocationKind.LOCAL:
            return _local_identity(location, prefix=prefix)
        if prefix:
            return _listing_identity(self._list(location))
        head = self.s3.head(location.url, location.bucket, location.key)
        _check_etag(location, head.etag, expected_etag)
        return _etag_identity(head.etag)

    def fetch(
        self,
        location: ArtifactLocation,
        *,
        timeout_s: float,
        prefix: bool = False,
        expected_etag: str | None = None,
    ) -> FetchedArtifact:
        """Fetch (or revalidate) the artifact and return its local copy.

        The returned path stays valid until a later fetch of the same URL
        finds a changed artifact; readers that must not see it disappear use
        :meth:`opened`.
        """
        with self.opened(
            location, deadline=self.deadline(timeout_s), prefix=prefix, expected_etag=expected_etag
        ) as fetched:
            return fetched

    @contextlib.contextmanager
    def opened(
        self,
        location: ArtifactLocation,
        *,
        deadline: Deadline,
        prefix: bool = False,
        expected_etag: str | None = None,
        shared: bool = True,
        max_bytes: int | None = None,
    ) -> Iterator[FetchedArtifact]:
        """Fetch the artifact and hold its per-URL lock while the caller reads it.

        ``shared=False`` downloads a remote artifact afresh, into a private
        folder deleted when the caller is done (a local one is read in place).
        ``max_bytes``, the unpacked-size cap, refuses a larger remote artifact
        before it is transferred (on top of :class:`FetchLimits`).
        """
        cap = max_bytes
        if not shared:
            with self._private_fetch(location, deadline, prefix, expected_etag, cap) as fetched:
                yield fetched
            return
        # Local data is read in place; the lock still makes concurrent
        # readers of one artifact (copies starting together) take turns, so
        # that the first builds the model directory and the others reuse it.
        with self.lock("download", location.canonical):
            if location.kind is LocationKind.LOCAL:
                yield _local(location, prefix=prefix)
                return
            folder = self.downloads / _digest(location.canonical)
            if prefix:
                yield self._fetch_prefix(location, folder, deadline, cap)
            else:
                yield self._fetch_object(location, folder, deadline, expected_etag, cap)

    @contextlib.contextmanager
    def _private_fetch(
        self,
        location: ArtifactLocation,
        deadline: Deadline,
        prefix: bool,
        expected_etag: str | None,
        cap: int | None,
    ) -> Iterator[FetchedArtifact]:
        if location.kind is LocationKind.LOCAL:
            yield _local(location, prefix=prefix)
            return
        folder = self.private / owned_name(PRIVATE_MARK)
        try:
            if prefix:
                yield self._fetch_prefix(location, folder, deadline, cap)
            else:
                yield self._fetch_object(location, folder, deadline, expected_etag, cap)
        finally:
            remove(folder)

    def discard(self, fetched: FetchedArtifact) -> None:
        """Delete a downloaded version that turned out unusable (call under :meth:`opened`)."""
        if fetched.location.kind is LocationKind.S3 and fetched.path.is_relative_to(self.root):
            remove(fetched.path)

    def sweep(self) -> int:
        """Remove what processes that died left behind; return how many entries.

        That is partial downloads and extractions, and private model
        directories of copies that no longer run. Call it once at start-up.
        """
        removed = sweep_stale(self.models) + sweep_stale(self.private, PRIVATE_MARK)
        removed += sweep_stale(self.private)
        if self.downloads.is_dir():
            for folder in self.downloads.iterdir():
                removed += sweep_stale(folder)
        return removed

    # -- S3 objects ---------------------------------------------------------

    def _fetch_object(
        self,
        location: ArtifactLocation,
        folder: Path,
        deadline: Deadline,
        expected_etag: str | None,
        cap: int | None,
    ) -> FetchedArtifact:
        url = location.url
        deadline.check(url)
        head = self.s3.head(url, location.bucket, location.key)
        _check_etag(location, head.etag, expected_etag)
        identity = _etag_identity(head.etag)
        cached = folder / f"{_digest(identity)}.obj"
        self._check_total(url, head.size, cap)
        if cached.is_file():
            return FetchedArtifact(location, cached, identity, is_dir=False, downloaded=False)
        with _storing(url, folder):
            _make_folder(folder, location)
        temp = temp_name(cached)
        try:
            got = self.s3.download(
                url,
                location.bucket,
                location.key,
                temp,
                deadline=deadline,
                max_bytes=self._max_bytes(cap),
                reserve=self.reserve,
            )
            _check_etag(location, got.etag, expected_etag)
            # Named after what GetObject served, which may be newer than the
            # HeadObject answer if the object changed in between.
            identity = _etag_identity(got.etag)
            cached = folder / f"{_digest(identity)}.obj"
            with _storing(url, folder):
                publish(temp, cached)
        except BaseException:
            remove(temp)
            raise
        _drop_other_versions(folder, keep=cached.name)
        return FetchedArtifact(location, cached, identity, is_dir=False, downloaded=True)

    # -- S3 prefixes --------------------------------------------------------

    def _list(self, location: ArtifactLocation) -> list[S3Object]:
        url = location.url
        objects = self.s3.list_prefix(url, location.bucket, location.key, self.limits.max_objects)
        if not objects:
            raise ArtifactError(
                f"model artifact {url} could not be downloaded: there are no objects under "
                f"prefix '{location.key}' in bucket '{location.bucket}'",
                url=url,
            )
        return objects

    def _fetch_prefix(
        self, location: ArtifactLocation, folder: Path, deadline: Deadline, cap: int | None
    ) -> FetchedArtifact:
        url = location.url
        deadline.check(url)
        objects = self._list(location)
        identity = _listing_identity(objects)
        cached = folder / f"{_digest(identity)}.dir"
        total = sum(item.size for item in objects)
        self._check_total(url, total, cap)
        if cached.is_dir():
            return FetchedArtifact(location, cached, identity, is_dir=True, downloaded=False)
        names = _relative_names(location, objects)
        with _storing(url, folder):
            _make_folder(folder, location)
            self.reserve.check(f"model artifact {url}", folder, total, url=url)
            with staged_dir(cached) as temp:
                self._download_all(location, objects, names, temp, deadline, cap)
        _drop_other_versions(folder, keep=cached.name)
        return FetchedArtifact(location, cached, identity, is_dir=True, downloaded=True)

    def _max_bytes(self, cap: int | None) -> int:
        return self.limits.max_bytes if cap is None else min(cap, self.limits.max_bytes)

    def _check_total(self, url: str, size: int, cap: int | None) -> None:
        """Refuse an artifact larger than the download limit or the unpacked-size cap."""
        if cap is not None and cap < self.limits.max_bytes and size > cap:
            raise cap_error(f"model artifact {url}", cap, "is", url)
        check_size(url, size, self.limits.max_bytes)

    def _download_all(
        self,
        location: ArtifactLocation,
        objects: list[S3Object],
        names: list[tuple[str, ...]],
        into: Path,
        deadline: Deadline,
        cap: int | None,
    ) -> None:
        for parts in names:
            (into.joinpath(*parts)).parent.mkdir(parents=True, exist_ok=True)
        cancelled = threading.Event()

        def one(item: S3Object, parts: tuple[str, ...]) -> None:
            got = self.s3.download(
                location.url,
                location.bucket,
                item.key,
                into.joinpath(*parts),
                deadline=deadline,
                max_bytes=self._max_bytes(cap),
                cancelled=cancelled,
                reserve=self.reserve,
            )
            if got.etag != item.etag:
                raise ArtifactError(
                    f"model artifact {location.url} changed while it was being downloaded "
                    f"(object '{item.key}'); try again",
                    url=location.url,
                )

        workers = min(self.prefix_workers, len(objects))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-prefix") as pool:
            futures: list[Future[None]] = [
                pool.submit(one, item, parts) for item, parts in zip(objects, names, strict=True)
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                # Stop the other downloads at their next chunk; report the
                # first failure, which is the cause rather than a consequence.
                cancelled.set()
                for future in futures:
                    future.cancel()
                first = failed[0].exception()
                assert first is not None
                wait(futures)
                raise first


def _relative_names(location: ArtifactLocation, objects: list[S3Object]) -> list[tuple[str, ...]]:
    names: list[tuple[str, ...]] = []
    for item in objects:
        try:
            names.append(prefix_key_parts(item.key[len(location.key) :]))
        except UnsafeName as exc:
            raise ArtifactError(
                f"model artifact {location.url} cannot be used: object key '{item.key}' {exc}",
                url=location.url,
            ) from None
    clash = find_clash(names)
    if clash is not None:
        name = "/".join(clash)
        raise ArtifactError(
            f"model artifact {location.url} cannot be used: '{name}' is both a file and a "
            "directory under the prefix",
            url=location.url,
        )
    return names


# -- local locations ---------------------------------------------------------


def _local(location: ArtifactLocation, *, prefix: bool) -> FetchedArtifact:
    identity = _local_identity(location, prefix=prefix)
    path = location.local_path
    return FetchedArtifact(location, path, identity, is_dir=path.is_dir(), downloaded=False)


def _local_identity(location: ArtifactLocation, *, prefix: bool) -> str:
    path = location.local_path
    url = location.url
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ArtifactError(f"model artifact {url} does not exist", url=url) from None
    except OSError as exc:
        raise ArtifactError(
            f"model artifact {url} could not be read: {exc.strerror or exc}", url=url
        ) from None
    if path.is_dir():
        return "tree:" + _tree_digest(path, url)
    if prefix:
        raise ArtifactError(
            f"model artifact {url} is a file, but S3DataType S3Prefix needs a directory",
            url=url,
        )
    if not path.is_file():
        raise ArtifactError(f"model artifact {url} is not a regular file", url=url)
    if not os.access(path, os.R_OK):
        raise ArtifactError(f"model artifact {url} could not be read: permission denied", url=url)
    return f"stat:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def _tree_digest(root: Path, url: str) -> str:
    digest = hashlib.sha256()
    try:
        for directory, _dirs, files in walk_following_links(root):
            for name in files:
                path = os.path.join(directory, name)
                info = os.stat(path)
                rel = os.path.relpath(path, root)
                digest.update(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    except OSError as exc:
        raise ArtifactError(
            f"model artifact {url} could not be read: {exc.strerror or exc}", url=url
        ) from None
    return digest.hexdigest()


# -- identities --------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _etag_identity(etag: str) -> str:
    return f"etag:{etag}"


def _listing_identity(objects: list[S3Object]) -> str:
    digest = hashlib.sha256()
    for item in sorted(objects, key=lambda o: o.key):
        digest.update(f"{item.key}\0{item.etag}\0{item.size}\n".encode())
    return "listing:" + digest.hexdigest()


def _check_etag(location: ArtifactLocation, etag: str, expected: str | None) -> None:
    if expected and etag.strip('"') != expected.strip('"'):
        raise ArtifactError(
            f"model artifact {location.url} has changed since the model was created: its "
            f"ETag is {etag}, S3DataSource.ETag says {expected}",
            url=location.url,
        )


@contextlib.contextmanager
def _storing(url: str, folder: Path) -> Iterator[None]:
    """Turn a failed mkdir, write or rename in the cache into a clear error."""
    try:
        yield
    except OSError as exc:
        raise ArtifactError(
            f"model artifact {url} could not be stored: {os_error_cause(exc, folder)}", url=url
        ) from None


def _make_folder(folder: Path, location: ArtifactLocation) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    note = folder / "url.txt"
    if not note.exists():
        note.write_text(location.canonical + "\n")


def _drop_other_versions(folder: Path, *, keep: str) -> None:
    for entry in folder.iterdir():
        if entry.name != keep and entry.suffix in (".obj", ".dir"):
            remove(entry)
