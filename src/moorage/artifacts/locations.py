"""Where model data lives: typed parses of SageMaker's location fields.

SageMaker names model data in three ways: a container's ``ModelDataUrl`` (a
gzip-compressed tar archive), its ``ModelDataSource.S3DataSource`` (an object
or a key prefix, compressed or not) and an inference component's
``Container.ArtifactUrl`` (a tar archive, like ``ModelDataUrl``). This module
turns each into a :class:`ModelSource`, a location plus how to read it. The
cache (:mod:`moorage.artifacts.cache`) fetches locations; the model directory
builder (:mod:`moorage.artifacts.model_dir`) reads sources.

Accepted URLs:

- ``s3://bucket/key``, and the ``https://`` S3 URLs AWS's patterns admit
  (``https://bucket.s3.region.amazonaws.com/key`` and path-style
  ``https://s3.region.amazonaws.com/bucket/key``);
- as a documented local extension, ``file:///abs/path`` and plain absolute
  paths (``/abs/path``), to a file or a directory.

Anything else is an :class:`~moorage.artifacts.errors.ArtifactError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from moorage.artifacts.errors import ArtifactError

_SUPPORTED = "use s3://bucket/key, file:///absolute/path or an absolute path"

# Virtual-hosted S3 URLs: the bucket (which may contain dots) comes before the
# last ".s3" label that is followed only by region/dualstack labels.
_VIRTUAL_HOST = re.compile(
    r"^(?P<bucket>.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$", re.IGNORECASE
)
_PATH_STYLE_HOST = re.compile(r"^s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$", re.IGNORECASE)


class LocationKind(StrEnum):
    S3 = "s3"
    LOCAL = "local"


@dataclass(frozen=True)
class ArtifactLocation:
    """One parsed location: an S3 bucket and key, or a local absolute path.

    ``url`` is the string as the user wrote it (used in messages);
    :attr:`canonical` is the normalised form used as a cache key.
    """

    kind: LocationKind
    url: str
    bucket: str = ""
    key: str = ""
    path: Path | None = None

    @property
    def canonical(self) -> str:
        if self.kind is LocationKind.S3:
            return f"s3://{self.bucket}/{self.key}"
        return f"file://{self.local_path}"

    @property
    def local_path(self) -> Path:
        if self.path is None:
            raise ValueError(f"{self.url} is not a local location")
        return self.path

    @property
    def basename(self) -> str:
        """The last path component: the file name of an uncompressed object."""
        if self.kind is LocationKind.S3:
            return self.key.rstrip("/").rsplit("/", 1)[-1]
        return self.local_path.name


def parse_location(url: str) -> ArtifactLocation:
    """Parse a model data URL; raise :class:`ArtifactError` if it is not usable."""
    if not url:
        raise ArtifactError(f"model data location is empty: {_SUPPORTED}", url=url)
    if url != url.strip():
        raise ArtifactError(
            f"model data location {url!r} has leading or trailing white space", url=url
        )
    if url.startswith("/"):
        return _local(url, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        # s3:// URLs are taken literally (as the AWS CLI does): no unquoting,
        # and "?" or "#" are part of the key.
        bucket, _, key = url.split("://", 1)[1].partition("/")
        if not bucket:
            raise ArtifactError(f"model data location {url} names no bucket", url=url)
        return ArtifactLocation(LocationKind.S3, url, bucket=bucket, key=key)
    if scheme == "https":
        return _https(url)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ArtifactError(
                f"model data location {url} names host {parts.netloc!r}; "
                "file:// URLs must name a local path (file:///absolute/path)",
                url=url,
            )
        return _local(url, unquote(parts.path))
    raise ArtifactError(f"model data location {url} is not supported: {_SUPPORTED}", url=url)


def _local(url: str, raw_path: str) -> ArtifactLocation:
    if not raw_path.startswith("/"):
        raise ArtifactError(f"model data location {url} is not an absolute path", url=url)
    # Normalised lexically (the user's own path, so ".." is theirs to use);
    # symlinks are left alone so that the cache key follows what was written.
    return ArtifactLocation(LocationKind.LOCAL, url, path=Path(os.path.normpath(raw_path)))


def _https(url: str) -> ArtifactLocation:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    virtual = _VIRTUAL_HOST.match(host)
    if _PATH_STYLE_HOST.match(host):
        bucket, _, key = path.lstrip("/").partition("/")
    elif virtual:
        bucket, key = virtual.group("bucket"), path.lstrip("/")
    else:
        raise ArtifactError(
            f"model data location {url} is not an Amazon S3 URL: {_SUPPORTED}", url=url
        )
    if not bucket:
        raise ArtifactError(f"model data location {url} names no bucket", url=url)
    return ArtifactLocation(LocationKind.S3, url, bucket=bucket, key=key)


class S3DataType(StrEnum):
    OBJECT = "S3Object"
    PREFIX = "S3Prefix"


class CompressionType(StrEnum):
    NONE = "None"
    GZIP = "Gzip"


@dataclass(frozen=True)
class ModelSource:
    """A location and how to read it.

    ``OBJECT`` + ``GZIP``: one tar archive (gzip-compressed or plain, detected
    by content) extracted into the model directory. ``OBJECT`` + ``NONE``: one
    file placed in the model directory under the key's last component.
    ``PREFIX`` + ``NONE``: every object under the prefix, at its key relative
    to the prefix. A local directory is used as it is, whatever the flags say.
    ``expected_etag`` (``S3DataSource.ETag``) makes a fetch fail if the object
    has changed since the model was created.
    """

    location: ArtifactLocation
    data_type: S3DataType = S3DataType.OBJECT
    compression: CompressionType = CompressionType.GZIP
    expected_etag: str | None = None

    @property
    def url(self) -> str:
        return self.location.url

    @classmethod
    def of(cls, url: str, *, prefix: bool = False, compressed: bool = True) -> ModelSource:
        """A source from a URL and the two S3DataSource flags."""
        return cls._checked(
            parse_location(url),
            S3DataType.PREFIX if prefix else S3DataType.OBJECT,
            CompressionType.GZIP if compressed else CompressionType.NONE,
            None,
        )

    @classmethod
    def from_model_data_url(cls, url: str) -> ModelSource:
        """A container's ``ModelDataUrl``: always a (gzip-compressed) tar archive."""
        return cls.of(url)

    @classmethod
    def from_artifact_url(cls, url: str) -> ModelSource:
        """An inference component container's ``ArtifactUrl``: a tar archive too."""
        return cls.of(url)

    @classmethod
    def from_model_data_source(cls, source: Mapping[str, Any]) -> ModelSource:
        """A container's ``ModelDataSource`` (``{"S3DataSource": {...}}``)."""
        s3 = source.get("S3DataSource")
        if not isinstance(s3, Mapping):
            raise ArtifactError("ModelDataSource has no S3DataSource")
        uri = s3.get("S3Uri")
        if not isinstance(uri, str):
            raise ArtifactError("ModelDataSource.S3DataSource has no S3Uri")
        if s3.get("ManifestS3Uri"):
            raise ArtifactError(
                f"model data {uri}: S3DataSource.ManifestS3Uri is not supported", url=uri
            )
        data_type = _enum(S3DataType, s3.get("S3DataType", "S3Object"), "S3DataType", uri)
        compression = _enum(
            CompressionType, s3.get("CompressionType", "None"), "CompressionType", uri
        )
        etag = s3.get("ETag")
        return cls._checked(
            parse_location(uri), data_type, compression, etag if isinstance(etag, str) else None
        )

    @classmethod
    def _checked(
        cls,
        location: ArtifactLocation,
        data_type: S3DataType,
        compression: CompressionType,
        expected_etag: str | None,
    ) -> ModelSource:
        url = location.url
        if data_type is S3DataType.PREFIX and compression is CompressionType.GZIP:
            raise ArtifactError(
                f"model data {url}: CompressionType Gzip requires S3DataType S3Object "
                "(a prefix is read as uncompressed files)",
                url=url,
            )
        if location.kind is LocationKind.S3:
            if data_type is S3DataType.OBJECT and not location.key:
                raise ArtifactError(f"model data {url} names a bucket, not an object", url=url)
            if data_type is S3DataType.OBJECT and location.key.endswith("/"):
                raise ArtifactError(
                    f"model data {url} ends with '/', which names a prefix: "
                    "use S3DataType S3Prefix for a prefix",
                    url=url,
                )
            if data_type is S3DataType.PREFIX and location.key and not location.key.endswith("/"):
                raise ArtifactError(
                    f"model data prefix {url} must end with '/' (S3DataType S3Prefix)", url=url
                )
        return cls(location, data_type, compression, expected_etag)


def _enum(kind: type[Any], value: object, field: str, url: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ArtifactError(
            f"model data {url}: {field} {value!r} is not one of {allowed}", url=url
        ) from None
