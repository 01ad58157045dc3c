"""Reading captured data back: every record under a destination, in key order.

:func:`read_capture` lists the ``.jsonl`` files under a ``file://`` URL, an
absolute path, an ``s3://`` URL or an S3 ``https://`` URL (a prefix or one
file), in key order, which within an endpoint and variant is time order
(:mod:`moorage.capture.keys`), and yields each line as a
:class:`~moorage.capture.format.CaptureRecord`. Files still being written
(hidden temporary names) are skipped. It is how ``moorage replay`` and the
tests read what the writer (:mod:`moorage.capture.writer`) wrote; S3 access
goes through the same client factory as the writer's.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from moorage.artifacts.s3 import S3ClientFactory, explain, make_s3_client
from moorage.capture.destination import Destination, DestinationKind, parse_destination
from moorage.capture.errors import CaptureConfigError, CaptureReadError
from moorage.capture.format import CaptureRecord
from moorage.capture.keys import SUFFIX


def read_capture(
    uri: str, *, s3_client_factory: S3ClientFactory | None = None
) -> Iterator[CaptureRecord]:
    """Every capture record under ``uri``; raise :class:`CaptureReadError` on a bad line."""
    for location, read in _sources(uri, s3_client_factory):
        yield from _parse_lines(location, read())


def capture_files(uri: str, *, s3_client_factory: S3ClientFactory | None = None) -> list[str]:
    """The URIs of the capture files under ``uri``, in key order."""
    return [location for location, _ in _sources(uri, s3_client_factory)]


def _sources(
    uri: str, s3_client_factory: S3ClientFactory | None
) -> list[tuple[str, Callable[[], bytes]]]:
    try:
        destination = parse_destination(uri)
    except CaptureConfigError as exc:
        raise CaptureReadError(str(exc), location=uri) from None
    if destination.kind is DestinationKind.LOCAL:
        return [
            (f"file://{path}", functools.partial(_read_local, path))
            for path in _local_files(destination.path)
        ]
    try:
        client = (s3_client_factory or make_s3_client)()
    except BotoCoreError as exc:
        raise CaptureReadError(f"the S3 client could not be created: {exc}", location=uri) from None
    return [
        (f"s3://{destination.bucket}/{key}", functools.partial(_read_s3, client, destination, key))
        for key in _s3_keys(client, destination)
    ]


def _local_files(root: str) -> list[str]:
    if os.path.isfile(root):
        return [root]
    if not os.path.isdir(root):
        raise CaptureReadError(f"file://{root}: no such file or directory", location=root)
    found: list[tuple[str, str]] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for name in files:
            if name.endswith(SUFFIX) and not name.startswith("."):
                path = os.path.join(directory, name)
                found.append((os.path.relpath(path, root).replace(os.sep, "/"), path))
    return [path for _, path in sorted(found)]


def _read_local(path: str) -> bytes:
    try:
        with open(path, "rb") as source:
            return source.read()
    except OSError as exc:
        raise CaptureReadError(f"file://{path}: {exc.strerror or exc}", location=path) from None


def _s3_keys(client: Any, destination: Destination) -> list[str]:
    prefix = destination.prefix
    if prefix.endswith(SUFFIX):
        return [prefix]
    list_prefix = f"{prefix}/" if prefix else ""
    keys: list[str] = []
    params: dict[str, Any] = {"Bucket": destination.bucket, "Prefix": list_prefix}
    try:
        while True:
            page: dict[str, Any] = client.list_objects_v2(**params)
            for item in page.get("Contents", []):
                name = str(item["Key"]).rsplit("/", 1)[-1]
                if name.endswith(SUFFIX) and not name.startswith("."):
                    keys.append(str(item["Key"]))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
            params["ContinuationToken"] = token
    except (BotoCoreError, ClientError) as exc:
        cause = explain(exc, destination.bucket, list_prefix)
        raise CaptureReadError(
            f"{destination.url} could not be listed: {cause}", location=destination.url
        ) from None
    return sorted(keys)


def _read_s3(client: Any, destination: Destination, key: str) -> bytes:
    try:
        reply = client.get_object(Bucket=destination.bucket, Key=key)
        body = reply["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
    except (BotoCoreError, ClientError) as exc:
        uri = f"s3://{destination.bucket}/{key}"
        raise CaptureReadError(
            f"{uri} could not be read: {explain(exc, destination.bucket, key)}", location=uri
        ) from None
    return data


def _parse_lines(uri: str, data: bytes) -> Iterable[CaptureRecord]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{uri}:{number}"
        try:
            yield CaptureRecord.from_json(json.loads(line), source=source)
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError included
            raise CaptureReadError(
                f"{source} is not a capture record: {exc}", location=source
            ) from None
