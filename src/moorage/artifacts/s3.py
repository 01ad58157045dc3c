"""Reading model data from S3 through botocore.

:class:`S3Reader` wraps one lazily created botocore S3 client (from a factory
the caller gives, or :func:`make_s3_client`) with the three calls the cache
(:mod:`moorage.artifacts.cache`) needs: HeadObject, a paginated
ListObjectsV2, and a streamed GetObject that checks the deadline, the size
cap and the disk's free-space reserve (:mod:`moorage.artifacts.space`)
between chunks. botocore errors become :class:`ArtifactError` messages
that name the URL and say what is wrong (no bucket, no key, no access, no
credentials, no connection).

Endpoint and credentials. botocore itself reads ``AWS_ENDPOINT_URL_S3`` and
``AWS_ENDPOINT_URL`` (and ``endpoint_url`` in the shared config file) when a
client is created, so pointing moorage at MinIO, LocalStack or moto needs no
setting of ours. Credentials come from botocore's usual chain. If the chain
finds none *and* the client's endpoint is not an AWS one, the default factory
signs with placeholder credentials (``moorage-local``): local stand-ins such
as moto and LocalStack accept any signature, whereas they (like MinIO) refuse
unsigned requests to private buckets. A store that checks signatures needs
real credentials either way. Against AWS itself a missing credential is
reported as such, never papered over.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from moorage.artifacts.deadline import Deadline
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.shared_client import SharedClient
from moorage.artifacts.space import FreeSpaceReserve, WriteBudget, os_error_cause

S3ClientFactory = Callable[[], Any]

CHUNK_BYTES = 1024 * 1024
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=10,
    read_timeout=60,
    max_pool_connections=16,
)
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
# Signed with when no credentials are configured and the endpoint is not AWS.
PLACEHOLDER_ACCESS_KEY = "moorage-local"
PLACEHOLDER_SECRET_KEY = "moorage-local"


def make_s3_client(*, region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    """A botocore S3 client configured from the environment (see module docs)."""
    session = botocore.session.Session()
    client = session.create_client(
        "s3", region_name=region_name, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
    )
    if session.get_credentials() is None and not is_aws_endpoint(client.meta.endpoint_url):
        client = session.create_client(
            "s3",
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=_CLIENT_CONFIG,
            aws_access_key_id=PLACEHOLDER_ACCESS_KEY,
            aws_secret_access_key=PLACEHOLDER_SECRET_KEY,
        )
    return client


def is_aws_endpoint(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith(_AWS_HOST_SUFFIXES)


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    size: int


class S3Reader:
    """One shared client (botocore clients are thread-safe), created on first use."""

    def __init__(self, factory: S3ClientFactory | None = None) -> None:
        self._shared = SharedClient(factory or make_s3_client, ArtifactError)

    def client(self) -> Any:
        return self._shared.get()

    def head(self, url: str, bucket: str, key: str) -> S3Object:
        client = self.client()
        try:
            reply = client.head_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            cause = explain(exc, bucket, key)
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                cause = self._why_missing(bucket, key)
            elif _code(exc) in ("403", "AccessDenied", "Forbidden"):
                cause += " (without s3:ListBucket, S3 also answers 403 for a missing object)"
            raise ArtifactError(
                f"model artifact {url} could not be downloaded: {cause}", url=url
            ) from None
        return S3Object(key, str(reply.get("ETag", "")), int(reply.get("ContentLength", 0)))

    def _why_missing(self, bucket: str, key: str) -> str:
        """HeadObject's 404 has no body: tell a missing bucket from a missing key."""
        client = self.client()
        try:
            client.head_bucket(Bucket=bucket)
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return f"bucket '{bucket}' does not exist"
            return f"no object with key '{key}' in bucket '{bucket}'"
        try:
            reply = client.list_objects_v2(Bucket=bucket, Prefix=key + "/", MaxKeys=1)
        except (BotoCoreError, ClientError):
            reply = {}
        if reply.get("KeyCount", 0):
            return (
                f"no object with key '{key}' in bucket '{bucket}', but objects exist under "
                f"'{key}/' (for a prefix, use S3DataType S3Prefix)"
            )
        return f"no object with key '{key}' in bucket '{bucket}'"

    def list_prefix(self, url: str, bucket: str, prefix: str, max_objects: int) -> list[S3Object]:
        client = self.client()
        found: list[S3Object] = []
        try:
            for page in _pages(client, bucket, prefix):
                for item in page.get("Contents", []):
                    found.append(S3Object(item["Key"], str(item["ETag"]), int(item["Size"])))
                if len(found) > max_objects:
                    raise ArtifactError(
                        f"model artifact {url} has more than {max_objects} objects under "
                        "its prefix (the limit on objects per model)",
                        url=url,
                    )
        except (BotoCoreError, ClientError) as exc:
            raise ArtifactError(
                f"model artifact {url} could not be listed: {explain(exc, bucket, prefix)}",
                url=url,
            ) from None
        return found

    def download(
        self,
        url: str,
        bucket: str,
        key: str,
        dest: Path,
        *,
        deadline: Deadline,
        max_bytes: int,
        cancelled: threading.Event | None = None,
        reserve: FreeSpaceReserve | None = None,
    ) -> S3Object:
        """Stream one object into ``dest``; return what GetObject actually served.

        Refused before the transfer if it is larger than ``max_bytes`` or
        would leave less than ``reserve`` free on the disk; stopped if the
        disk's free space falls to the reserve meanwhile, or the disk is full.
        """
        client = self.client()
        deadline.check(url)
        try:
            reply = client.get_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise ArtifactError(
                f"model artifact {url} could not be downloaded: {explain(exc, bucket, key)}",
                url=url,
            ) from None
        body = reply["Body"]
        size = int(reply.get("ContentLength", 0))
        try:
            check_size(url, size, max_bytes)
            # The size limit is checked above, on what S3 says it will send
            # (botocore verifies it is what arrives); the budget watches the disk.
            budget = WriteBudget(
                f"model artifact {url}",
                dest.parent,
                max_bytes=max(max_bytes, size),
                reserve=reserve or FreeSpaceReserve(),
                url=url,
            )
            budget.start(size)
            try:
                # Chunks are read inside: read errors are ArtifactErrors
                # already, so an OSError here is a write (or the final flush).
                with dest.open("wb") as out:
                    for chunk in _chunks(url, body, bucket, key, deadline, cancelled):
                        budget.spend(len(chunk))
                        out.write(chunk)
            except OSError as exc:
                raise _not_stored(url, exc, dest) from None
        finally:
            body.close()
        return S3Object(key, str(reply.get("ETag", "")), size)


def _chunks(
    url: str,
    body: Any,
    bucket: str,
    key: str,
    deadline: Deadline,
    cancelled: threading.Event | None,
) -> Iterator[bytes]:
    while True:
        deadline.check(url)
        if cancelled is not None and cancelled.is_set():
            raise ArtifactError(f"download of model artifact {url} was cancelled", url=url)
        try:
            chunk: bytes = body.read(CHUNK_BYTES)
        except (BotoCoreError, ClientError, Urllib3Error, OSError) as exc:
            raise ArtifactError(
                f"model artifact {url} could not be downloaded: {explain(exc, bucket, key)}",
                url=url,
            ) from None
        if not chunk:
            return
        yield chunk


def _pages(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            params["ContinuationToken"] = token
        page: dict[str, Any] = client.list_objects_v2(**params)
        yield page
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return


def check_size(url: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ArtifactError(
            f"model artifact {url} is {size} bytes, more than the {max_bytes}-byte limit "
            "on model data",
            url=url,
        )


def _not_stored(url: str, exc: OSError, dest: Path) -> ArtifactError:
    return ArtifactError(
        f"model artifact {url} could not be stored: {os_error_cause(exc, dest.parent)}", url=url
    )


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def explain(exc: Exception, bucket: str, key: str) -> str:
    """A one-line, user-facing cause for a botocore error."""
    if isinstance(exc, ClientError):
        code = _code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return f"bucket '{bucket}' does not exist"
        if code in ("NoSuchKey", "404", "NotFound"):
            return f"no object with key '{key}' in bucket '{bucket}'"
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
            return (
                f"access to bucket '{bucket}' was denied ({code}); check the credentials "
                "and permissions moorage runs with"
            )
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return f"S3 rejected the credentials moorage runs with ({code}: {message})"
        if code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed"):
            return (
                f"bucket '{bucket}' is in another region than the one configured "
                f"({code}); set AWS_REGION or AWS_DEFAULT_REGION"
            )
        detail = f"{code}: {message}" if message else f"{code or 'error'} (HTTP {status})"
        return f"S3 answered {detail}"
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials are configured (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or point AWS_ENDPOINT_URL_S3 at an "
            "S3-compatible store)"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"could not connect to S3: {exc}"
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return f"S3 did not answer in time: {exc}"
    return f"{type(exc).__name__}: {exc}"
