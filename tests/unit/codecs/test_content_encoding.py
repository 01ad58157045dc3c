"""Request bodies with Content-Encoding: gzip, as botocore compresses PutMetricData."""

from __future__ import annotations

import gzip

import pytest

from moorage.api.content_encoding import decode_body
from moorage.errors import SerializationError, ServiceError


def test_plain_and_identity_pass_through() -> None:
    assert decode_body(b"{}", None, 10) == b"{}"
    assert decode_body(b"{}", "identity", 10) == b"{}"


def test_gzip_including_several_members() -> None:
    assert decode_body(gzip.compress(b'{"a": 1}'), "gzip", 100) == b'{"a": 1}'
    two = gzip.compress(b"ab") + gzip.compress(b"cd")
    assert decode_body(two, "GZIP", 100) == b"abcd"
    assert decode_body(gzip.compress(b"xy"), "gzip, identity", 100) == b"xy"


def test_the_limit_applies_to_the_decompressed_size() -> None:
    bomb = gzip.compress(b"0" * 1_000_000)
    assert len(bomb) < 2_000
    with pytest.raises(ServiceError) as info:
        decode_body(bomb, "gzip", 1000)
    assert (info.value.code, info.value.status) == ("RequestEntityTooLargeException", 413)
    assert decode_body(gzip.compress(b"0" * 1000), "gzip", 1000) == b"0" * 1000


@pytest.mark.parametrize(
    "body",
    [b"not gzip", gzip.compress(b"abcdef", mtime=0)[:-6], b"\x1f\x8b"],
    ids=["not-gzip", "truncated", "header-only"],
)
def test_broken_gzip_is_a_serialization_error(body: bytes) -> None:
    with pytest.raises(SerializationError):
        decode_body(body, "gzip", 1000)


def test_other_codings_are_refused() -> None:
    with pytest.raises(ServiceError) as info:
        decode_body(b"x", "br", 10)
    assert info.value.status == 415
