"""Reading a request's input and writing its result: S3 or, locally, files.

Inputs are an ``InputLocation`` (``s3://``, the ``https://`` S3 URL forms,
or, as moorage's local extension, ``file://`` URLs and absolute paths under
the server's file roots) or an inline ``Body``. Results go to the request's
output or failure location, fixed when it was accepted from the endpoint
config's ``S3OutputPath`` / ``S3FailurePath`` (:func:`result_locations`).

S3 goes through one botocore client made by
:func:`moorage.artifacts.s3.make_s3_client`, so ``AWS_ENDPOINT_URL_S3`` and
``AWS_ENDPOINT_URL`` point it at any S3-compatible store; a ``KmsKeyId`` asks
for SSE-KMS. A local result is written under a temporary name and renamed
into place, so it appears whole or not at all, as an S3 object does. Every
function here blocks: the dispatcher runs them in worker threads. Failures
are :class:`PayloadError` with a one-line cause fit for a failure reason.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.locations import ArtifactLocation, LocationKind, parse_location
from moorage.artifacts.s3 import S3ClientFactory, explain, make_s3_client
from moorage.artifacts.shared_client import SharedClient
from moorage.async_inference.config import MAX_INPUT_BYTES
from moorage.capture.destination import parse_destination
from moorage.capture.errors import CaptureConfigError

_READ_CHUNK = 1024 * 1024


class PayloadError(Exception):
    """An input could not be read or a result written (the message says why)."""


@dataclass(frozen=True)
class Locations:
    output: str
    failure: str


def parse_input(url: str) -> ArtifactLocation:
    """An ``InputLocation``, parsed; :class:`PayloadError` if it names nothing usable."""
    try:
        return parse_location(url)
    except ArtifactError as exc:
        raise PayloadError(str(exc).replace("model data location", "InputLocation")) from None


def result_locations(
    output_path: str,
    failure_path: str | None,
    request_id: str,
    *,
    extension: str | None = None,
    filename: str | None = None,
) -> Locations:
    """Where a request's answer and failure go (docs/async-inference.md, "Results").

    The answer is ``<S3OutputPath>[/<S3OutputPathExtension>]/<Filename or
    request id>.out``; the failure ``<S3FailurePath>[/<extension>]/<name>-error.out``,
    beside the answer when the config has no ``S3FailurePath``.
    """
    name = filename or f"{request_id}.out"
    stem = filename or request_id
    middle = f"{extension.strip('/')}/" if extension else ""
    output = _join(output_path, f"{middle}{name}")
    failure = _join(failure_path or output_path, f"{middle}{stem}-error.out")
    return Locations(output, failure)


def _join(base: str, relative: str) -> str:
    try:
        destination = parse_destination(base)
    except CaptureConfigError as exc:
        raise PayloadError(str(exc).replace("capture destination", "output path")) from None
    return destination.uri(relative)


class Payloads:
    """Reads inputs and writes results (one shared S3 client, made on first use)."""

    def __init__(self, factory: S3ClientFactory | None = None) -> None:
        self._shared = SharedClient(factory or make_s3_client, PayloadError)

    def client(self) -> Any:
        return self._shared.get()

    def read(self, url: str) -> tuple[bytes, str | None]:
        """The input at ``url`` and its stored content type (S3 only)."""
        where = parse_input(url)
        if where.kind is LocationKind.LOCAL:
            return _read_file(url, where.local_path), None
        try:
            reply = self.client().get_object(Bucket=where.bucket, Key=where.key)
        except (BotoCoreError, ClientError) as exc:
            raise PayloadError(
                f"could not read {url}: {explain(exc, where.bucket, where.key)}"
            ) from None
        size = int(reply.get("ContentLength", 0))
        body = reply["Body"]
        try:
            if size > MAX_INPUT_BYTES:
                raise PayloadError(_too_large(url, size))
            try:
                data: bytes = body.read(MAX_INPUT_BYTES + 1)
            except (BotoCoreError, ClientError, OSError) as exc:
                raise PayloadError(
                    f"could not read {url}: {explain(exc, where.bucket, where.key)}"
                ) from None
        finally:
            body.close()
        if len(data) > MAX_INPUT_BYTES:
            raise PayloadError(_too_large(url, len(data)))
        return data, reply.get("ContentType")

    def write(self, url: str, body: bytes, content_type: str, kms_key_id: str | None) -> None:
        """Store ``body`` at ``url`` (whole or not at all)."""
        where = _result(url)
        if where.kind is LocationKind.LOCAL:
            _write_file(url, where.local_path, body)
            return
        params: dict[str, Any] = {
            "Bucket": where.bucket,
            "Key": where.key,
            "Body": body,
            "ContentType": content_type,
        }
        if kms_key_id:
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = kms_key_id
        try:
            self.client().put_object(**params)
        except (BotoCoreError, ClientError) as exc:
            raise PayloadError(
                f"could not write {url}: {explain(exc, where.bucket, where.key)}"
            ) from None

    def exists(self, url: str) -> bool:
        """Whether an object is at ``url``; :class:`PayloadError` when that cannot be told."""
        where = _result(url)
        if where.kind is LocationKind.LOCAL:
            return where.local_path.is_file()
        try:
            self.client().head_object(Bucket=where.bucket, Key=where.key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise PayloadError(
                f"could not check {url}: {explain(exc, where.bucket, where.key)}"
            ) from None
        except BotoCoreError as exc:
            raise PayloadError(
                f"could not check {url}: {explain(exc, where.bucket, where.key)}"
            ) from None
        return True


def _result(url: str) -> ArtifactLocation:
    try:
        return parse_location(url)
    except ArtifactError as exc:
        raise PayloadError(str(exc).replace("model data location", "result location")) from None


def _too_large(url: str, size: int) -> str:
    return f"{url} is {size} bytes, more than the {MAX_INPUT_BYTES}-byte limit on an input"


def _read_file(url: str, path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_INPUT_BYTES:
                raise PayloadError(_too_large(url, size))
            chunks: list[bytes] = []
            total = 0
            while chunk := handle.read(_READ_CHUNK):
                total += len(chunk)
                if total > MAX_INPUT_BYTES:
                    raise PayloadError(_too_large(url, total))
                chunks.append(chunk)
    except IsADirectoryError:
        raise PayloadError(f"could not read {url}: it is a directory") from None
    except FileNotFoundError:
        raise PayloadError(f"could not read {url}: no such file") from None
    except OSError as exc:
        raise PayloadError(f"could not read {url}: {exc.strerror or exc}") from None
    return b"".join(chunks)


def _write_file(url: str, path: Path, body: bytes) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temp.open("wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise PayloadError(f"could not write {url}: {exc.strerror or exc}") from None
