"""Where captured data goes: an S3 prefix or, as a local extension, a directory.

SageMaker's ``DestinationS3Uri`` (DataCaptureConfig) and ``Destination``
(InferenceExperiment DataStorageConfig) name an S3 prefix. moorage accepts
``s3://bucket/prefix``, the ``https://`` S3 URL forms AWS's pattern admits,
and, as documented local extensions, ``file:///absolute/path`` and plain
absolute paths. :func:`parse_destination` turns any of them into a
:class:`Destination`; the sinks (:mod:`moorage.capture.sinks`) write to it
and the reader (:mod:`moorage.capture.reader`) lists it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.locations import parse_location
from moorage.capture.errors import CaptureConfigError

_SUPPORTED = "use s3://bucket/prefix, file:///absolute/path or an absolute path"


class DestinationKind(StrEnum):
    S3 = "s3"
    LOCAL = "local"


@dataclass(frozen=True)
class Destination:
    """A parsed destination: a bucket and key prefix, or a local directory.

    ``prefix`` never starts or ends with ``/``; ``path`` is absolute and
    normalised. ``url`` is the string as written (used in messages).
    """

    kind: DestinationKind
    url: str
    bucket: str = ""
    prefix: str = ""
    path: str = ""

    @property
    def place(self) -> tuple[str, str, str, str]:
        """Where files land, whatever the URL's spelling (``s3://b/p/`` is ``s3://b/p``)."""
        return (self.kind.value, self.bucket, self.prefix, self.path)

    def join(self, relative_key: str) -> str:
        """The full S3 key or file path of ``relative_key`` under this destination."""
        if self.kind is DestinationKind.LOCAL:
            return os.path.join(self.path, *relative_key.split("/"))
        return f"{self.prefix}/{relative_key}" if self.prefix else relative_key

    def uri(self, relative_key: str = "") -> str:
        """A URI for ``relative_key`` (or the destination itself)."""
        if self.kind is DestinationKind.LOCAL:
            return "file://" + (self.join(relative_key) if relative_key else self.path)
        return f"s3://{self.bucket}/{self.join(relative_key) if relative_key else self.prefix}"


def parse_destination(url: str) -> Destination:
    """Parse a capture destination; raise :class:`CaptureConfigError` if unusable."""
    if not url or url != url.strip():
        raise CaptureConfigError(f"capture destination {url!r} is not usable: {_SUPPORTED}")
    if url.startswith("/"):
        return _local(url, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        # Taken literally, as the AWS CLI does: no percent-decoding.
        bucket, _, prefix = url.split("://", 1)[1].partition("/")
        return _s3(url, bucket, prefix)
    if scheme == "https":
        try:
            location = parse_location(url)
        except ArtifactError:
            raise CaptureConfigError(
                f"capture destination {url} is not an Amazon S3 URL: {_SUPPORTED}"
            ) from None
        return _s3(url, location.bucket, location.key)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise CaptureConfigError(
                f"capture destination {url} names host {parts.netloc!r}; file:// URLs must "
                "name a local path (file:///absolute/path)"
            )
        return _local(url, unquote(parts.path))
    raise CaptureConfigError(f"capture destination {url} is not supported: {_SUPPORTED}")


def _s3(url: str, bucket: str, prefix: str) -> Destination:
    if not bucket:
        raise CaptureConfigError(f"capture destination {url} names no bucket")
    return Destination(DestinationKind.S3, url, bucket=bucket, prefix=prefix.strip("/"))


def _local(url: str, raw_path: str) -> Destination:
    if not raw_path.startswith("/"):
        raise CaptureConfigError(f"capture destination {url} is not an absolute path")
    return Destination(DestinationKind.LOCAL, url, path=os.path.normpath(raw_path))
