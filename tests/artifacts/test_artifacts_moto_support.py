"""The shared moto S3 stand-in starts, serves and stops cleanly."""

from __future__ import annotations

import pytest

from support.moto_s3 import MotoS3, moto_s3_server


def test_context_manager_stops_the_server() -> None:
    with moto_s3_server() as s3:
        bucket = s3.new_bucket("probe")
        s3.client.put_object(Bucket=bucket, Key="k", Body=b"v")
        assert s3.client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
        proc = s3.proc
        assert s3.env()["AWS_ENDPOINT_URL_S3"] == s3.endpoint_url
    assert proc.poll() is not None


def test_server_is_stopped_when_the_body_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), moto_s3_server() as s3:
        proc = s3.proc
        raise RuntimeError("boom")
    assert proc.poll() is not None


def test_fixture_buckets_are_fresh(moto_s3: MotoS3, s3_bucket: str) -> None:
    assert moto_s3.client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
    assert moto_s3.url(s3_bucket, "a/b") == f"s3://{s3_bucket}/a/b"
