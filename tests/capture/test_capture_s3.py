"""Capture to a real S3 API (moto's server): keys, SSE-KMS, failures, reading back."""

from __future__ import annotations

import calendar
import re
from typing import Any

import botocore.session
import pytest

from moorage.capture import (
    CaptureConfig,
    CaptureReadError,
    CaptureWriter,
    Encoding,
    capture_files,
    read_capture,
)
from moorage.clock import FakeClock
from support.moto_s3 import REGION, MotoS3

START = calendar.timegm((2026, 11, 23, 10, 11, 12, 0, 0, 0)) + 0.5
KEY = re.compile(
    r"^capture/my-endpoint/AllTraffic/2026/11/23/10/11-12-500-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl$"
)
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def factory(moto: MotoS3) -> Any:
    def make() -> Any:
        return botocore.session.Session().create_client(
            "s3",
            endpoint_url=moto.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


def data_capture_config(bucket: str, **overrides: Any) -> CaptureConfig:
    spec: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/capture",
        "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    spec.update(overrides)
    return CaptureConfig.from_data_capture_config(spec)


def keys(moto: MotoS3, bucket: str) -> list[str]:
    listing = moto.client.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_capture_lands_in_s3_under_sagemakers_keys(moto_s3: MotoS3, s3_bucket: str) -> None:
    clock = FakeClock(START)
    capture = data_capture_config(s3_bucket)
    with CaptureWriter(clock, factory(moto_s3), flush_interval_s=60) as writer:
        for i in range(3):
            assert writer.offer(
                capture, "my-endpoint", "AllTraffic", f"{i},1".encode(), "text/csv",
                b"\x89PNG", "image/png", f"inf-{i}",
            )  # fmt: skip
            clock.advance(0.01)
    assert (writer.stats.written, writer.stats.files_written, writer.stats.failed) == (3, 1, 0)

    (key,) = keys(moto_s3, s3_bucket)
    assert KEY.match(key), key
    head = moto_s3.client.head_object(Bucket=s3_bucket, Key=key)
    assert head.get("ServerSideEncryption") != "aws:kms"

    records = list(read_capture(f"s3://{s3_bucket}/capture", s3_client_factory=factory(moto_s3)))
    assert [r.inference_id for r in records] == ["inf-0", "inf-1", "inf-2"]
    assert records[0].source == f"s3://{s3_bucket}/{key}:1"
    assert records[0].endpoint_input is not None and records[0].endpoint_output is not None
    assert records[0].endpoint_input.encoding is Encoding.CSV
    assert records[0].endpoint_output.encoding is Encoding.BASE64
    assert records[0].endpoint_output.body == b"\x89PNG"
    assert records[2].inference_time == "2026-11-23T10:11:12Z"


def test_kms_key_asks_for_sse_kms(moto_s3: MotoS3, s3_bucket: str) -> None:
    capture = data_capture_config(s3_bucket, KmsKeyId=KMS_KEY)
    shadow = CaptureConfig.from_data_storage_config(
        {"Destination": f"s3://{s3_bucket}/shadow", "KmsKey": "alias/shadow-capture"}
    )
    writer = CaptureWriter(FakeClock(START), factory(moto_s3))
    writer.offer(capture, "my-endpoint", "AllTraffic", b"1", "text/csv", b"2", "text/csv")
    writer.offer(shadow, "my-endpoint", "Shadow", b"1", "text/csv", b"2", "text/csv")
    assert writer.close()
    heads = {
        key.split("/", 1)[0]: moto_s3.client.head_object(Bucket=s3_bucket, Key=key)
        for key in keys(moto_s3, s3_bucket)
    }
    assert heads["capture"]["ServerSideEncryption"] == "aws:kms"
    assert heads["capture"]["SSEKMSKeyId"] == KMS_KEY
    assert heads["shadow"]["ServerSideEncryption"] == "aws:kms"
    assert heads["shadow"]["SSEKMSKeyId"] == "alias/shadow-capture"


def test_a_missing_bucket_is_retried_counted_and_explained(moto_s3: MotoS3) -> None:
    capture = data_capture_config("no-such-capture-bucket")
    writer = CaptureWriter(FakeClock(START), factory(moto_s3), retry_delays_s=(0.0,))
    writer.offer(capture, "my-endpoint", "AllTraffic", b"1", "text/csv", b"2", "text/csv")
    writer.offer(capture, "my-endpoint", "AllTraffic", b"1", "text/csv", b"2", "text/csv")
    assert writer.close()
    stats = writer.stats
    assert (stats.written, stats.failed, stats.pending) == (0, 2, 0)
    assert stats.last_error is not None
    assert "bucket 'no-such-capture-bucket' does not exist" in stats.last_error
    assert "after 2 attempts" in stats.last_error


def test_default_client_honours_aws_endpoint_url_s3(
    moto_s3: MotoS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in moto_s3.env().items():
        monkeypatch.setenv(name, value)
    capture = data_capture_config(s3_bucket)
    writer = CaptureWriter(FakeClock(START))
    writer.offer(capture, "my-endpoint", "AllTraffic", b"1", "text/csv", b"2", "text/csv")
    assert writer.close()
    assert writer.stats.written == 1
    (key,) = keys(moto_s3, s3_bucket)
    assert KEY.match(key)
    assert len(list(read_capture(f"s3://{s3_bucket}/capture/"))) == 1


def test_reader_lists_only_capture_files_in_key_order(moto_s3: MotoS3, s3_bucket: str) -> None:
    line = (
        b'{"captureData":{},"eventMetadata":{"eventId":"e","inferenceTime":'
        b'"2026-11-23T10:11:12Z"},"eventVersion":"0"}\n'
    )
    for key in ("cap/b/2.jsonl", "cap/a/1.jsonl", "cap/notes.txt", "capture-other/x.jsonl"):
        moto_s3.client.put_object(Bucket=s3_bucket, Key=key, Body=line)
    found = capture_files(f"s3://{s3_bucket}/cap", s3_client_factory=factory(moto_s3))
    assert found == [f"s3://{s3_bucket}/cap/a/1.jsonl", f"s3://{s3_bucket}/cap/b/2.jsonl"]
    single = f"s3://{s3_bucket}/cap/b/2.jsonl"
    assert [r.source for r in read_capture(single, s3_client_factory=factory(moto_s3))] == [
        f"{single}:1"
    ]


def test_reader_reports_a_bad_line(moto_s3: MotoS3, s3_bucket: str) -> None:
    moto_s3.client.put_object(Bucket=s3_bucket, Key="cap/x.jsonl", Body=b"{}\nnot json\n")
    with pytest.raises(CaptureReadError, match=r"cap/x.jsonl:1 is not a capture record"):
        list(read_capture(f"s3://{s3_bucket}/cap", s3_client_factory=factory(moto_s3)))


def test_reader_reports_a_missing_bucket(moto_s3: MotoS3) -> None:
    with pytest.raises(CaptureReadError, match="does not exist"):
        list(read_capture("s3://no-such-capture-bucket/x", s3_client_factory=factory(moto_s3)))
