"""Writing one capture file to its destination.

:class:`LocalSink` writes under a local directory (the ``file://`` local
extension): the file is written under a temporary name beside its final one
and renamed into place, so a reader sees either nothing or the whole file.
:class:`S3Sink` writes with one S3 PutObject through a botocore client made
by a factory (by default :func:`moorage.artifacts.s3.make_s3_client`, which
honours ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL``). A KMS key in the
config asks S3 for SSE-KMS (``ServerSideEncryption: aws:kms`` and
``SSEKMSKeyId``); local files are never encrypted. Both raise
:class:`SinkError` with a one-line cause; the writer
(:mod:`moorage.capture.writer`) retries and counts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from moorage.artifacts.s3 import S3ClientFactory, explain, make_s3_client
from moorage.artifacts.shared_client import SharedClient
from moorage.artifacts.space import os_error_cause
from moorage.capture.destination import Destination, DestinationKind


class SinkError(Exception):
    """A capture file could not be written (the message says where and why).

    ``cause`` is the why alone, the same for every file of a destination
    that keeps failing for one reason (the writer logs once per cause).
    """

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


class Sink(Protocol):
    def write(self, destination: Destination, key: str, body: bytes, kms_key_id: str | None) -> str:
        """Write ``body`` at ``key`` under ``destination``; return the URI written."""
        ...


class LocalSink:
    def write(self, destination: Destination, key: str, body: bytes, kms_key_id: str | None) -> str:
        final = os.path.normpath(destination.join(key))
        if not final.startswith(destination.path.rstrip(os.sep) + os.sep):
            # Endpoint and variant names are validated upstream; this keeps a
            # bad one from writing outside the destination all the same.
            cause = "the key leaves the destination directory"
            raise SinkError(f"{destination.uri(key)}: {cause}", cause)
        directory, name = os.path.split(final)
        # Not ".jsonl": readers skip a file that is still being written.
        temp = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.partial")
        try:
            os.makedirs(directory, exist_ok=True)
            with open(temp, "wb") as out:
                out.write(body)
            os.replace(temp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            cause = os_error_cause(exc, destination.path)
            raise SinkError(f"{destination.uri(key)}: {cause}", cause) from None
        return destination.uri(key)


class S3Sink:
    """One shared client (botocore clients are thread-safe), created on first use."""

    def __init__(self, factory: S3ClientFactory | None = None) -> None:
        self._shared = SharedClient(
            factory or make_s3_client, lambda cause: SinkError(cause, cause)
        )

    def client(self) -> Any:
        return self._shared.get()

    def write(self, destination: Destination, key: str, body: bytes, kms_key_id: str | None) -> str:
        full_key = destination.join(key)
        params: dict[str, Any] = {"Bucket": destination.bucket, "Key": full_key, "Body": body}
        if kms_key_id:
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = kms_key_id
        try:
            self.client().put_object(**params)
        except (BotoCoreError, ClientError) as exc:
            cause = explain(exc, destination.bucket, full_key)
            raise SinkError(f"{destination.uri(key)}: {cause}", cause) from None
        return destination.uri(key)


class Sinks:
    """The sink for each kind of destination."""

    def __init__(self, s3_client_factory: S3ClientFactory | None = None) -> None:
        self.local = LocalSink()
        self.s3 = S3Sink(s3_client_factory)

    def write(self, destination: Destination, key: str, body: bytes, kms_key_id: str | None) -> str:
        sink: Sink = self.local if destination.kind is DestinationKind.LOCAL else self.s3
        return sink.write(destination, key, body, kms_key_id)
