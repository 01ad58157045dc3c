"""Request bodies sent with ``Content-Encoding: gzip``.

botocore compresses the bodies of operations whose model carries the
``requestcompression`` trait once they pass 10 KiB (CloudWatch's
``PutMetricData``), on every protocol. The protocols decode the body here
before parsing it. The decompressed size is capped by the same limit as the
raw body, so a small compressed request cannot grow into a large one.
"""

from __future__ import annotations

import zlib

from moorage.errors import SerializationError, ServiceError

_GZIP_WINDOW = 16 + zlib.MAX_WBITS


def too_large(limit: int) -> ServiceError:
    return ServiceError(
        f"Request body exceeds the limit of {limit} bytes.",
        code="RequestEntityTooLargeException",
        status=413,
    )


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``body`` with its content codings undone (``gzip`` and ``identity``)."""
    if not content_encoding:
        return body
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    # Codings are listed in the order they were applied.
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding != "gzip":
            raise ServiceError(
                f"Content-Encoding {coding!r} is not supported; send gzip or identity.",
                code="UnsupportedMediaTypeException",
                status=415,
            )
        body = _gunzip(body, limit)
    return body


def _gunzip(data: bytes, limit: int) -> bytes:
    out = bytearray()
    rest = data
    try:
        # A gzip file may hold several members; each is decompressed in turn.
        while rest:
            stream = zlib.decompressobj(_GZIP_WINDOW)
            out += stream.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise too_large(limit)
            if not stream.eof:
                raise SerializationError("The request body is a truncated gzip stream.")
            rest = stream.unused_data
    except zlib.error as exc:
        raise SerializationError(f"The request body is not valid gzip: {exc}") from None
    return bytes(out)
