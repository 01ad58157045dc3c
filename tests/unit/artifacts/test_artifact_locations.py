"""Parsing ModelDataUrl, ArtifactUrl and ModelDataSource into typed sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.artifacts import (
    ArtifactError,
    CompressionType,
    LocationKind,
    ModelSource,
    S3DataType,
    parse_location,
)
from moorage.artifacts.names import UnsafeName, find_clash, prefix_key_parts


@pytest.mark.parametrize(
    ("url", "bucket", "key"),
    [
        ("s3://bucket/model.tar.gz", "bucket", "model.tar.gz"),
        ("s3://bucket/a/b/c/", "bucket", "a/b/c/"),
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/odd key%20?x#y", "bucket", "odd key%20?x#y"),  # literal, as the AWS CLI
        ("https://my.bucket.s3.us-west-2.amazonaws.com/m/m.tar.gz", "my.bucket", "m/m.tar.gz"),
        ("https://bkt.s3.amazonaws.com/a%20b", "bkt", "a b"),
        ("https://bkt.s3-eu-west-1.amazonaws.com/k", "bkt", "k"),
        ("https://s3.us-east-1.amazonaws.com/bkt/dir/k", "bkt", "dir/k"),
        ("https://s3.amazonaws.com/bkt/k", "bkt", "k"),
    ],
)
def test_s3_urls(url: str, bucket: str, key: str) -> None:
    location = parse_location(url)
    assert location.kind is LocationKind.S3
    assert (location.bucket, location.key) == (bucket, key)
    assert location.url == url
    assert location.canonical == f"s3://{bucket}/{key}"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///opt/models/m.tar.gz", "/opt/models/m.tar.gz"),
        ("file://localhost/opt/m", "/opt/m"),
        ("file:///opt/with%20space", "/opt/with space"),
        ("/opt/models/m.tar.gz", "/opt/models/m.tar.gz"),
        ("/opt/models/../m/", "/opt/m"),
    ],
)
def test_local_urls(url: str, path: str) -> None:
    location = parse_location(url)
    assert location.kind is LocationKind.LOCAL
    assert location.local_path == Path(path)
    assert location.canonical == f"file://{path}"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "is empty"),
        ("models/m.tar.gz", "is not supported"),
        ("http://example.com/m.tar.gz", "is not supported"),
        ("ftp://host/m", "is not supported"),
        ("https://example.com/m.tar.gz", "is not an Amazon S3 URL"),
        ("file://otherhost/m", "names host 'otherhost'"),
        ("file:relative/m", "is not an absolute path"),
        ("s3:///key", "names no bucket"),
        (" s3://b/k", "white space"),
    ],
)
def test_unsupported_urls(url: str, why: str) -> None:
    with pytest.raises(ArtifactError, match=why) as info:
        parse_location(url)
    assert "Traceback" not in info.value.message


def test_model_data_url_and_artifact_url_are_archives() -> None:
    for source in (
        ModelSource.from_model_data_url("s3://b/m.tar.gz"),
        ModelSource.from_artifact_url("s3://b/m.tar.gz"),
    ):
        assert source.data_type is S3DataType.OBJECT
        assert source.compression is CompressionType.GZIP


def test_model_data_source() -> None:
    source = ModelSource.from_model_data_source(
        {
            "S3DataSource": {
                "S3Uri": "s3://b/prefix/",
                "S3DataType": "S3Prefix",
                "CompressionType": "None",
                "ModelAccessConfig": {"AcceptEula": True},
            }
        }
    )
    assert source.data_type is S3DataType.PREFIX
    assert source.compression is CompressionType.NONE
    assert source.location.key == "prefix/"
    etagged = ModelSource.from_model_data_source(
        {
            "S3DataSource": {
                "S3Uri": "s3://b/m.bin",
                "S3DataType": "S3Object",
                "CompressionType": "None",
                "ETag": '"abc"',
            }
        }
    )
    assert etagged.expected_etag == '"abc"'
    assert etagged.location.basename == "m.bin"


@pytest.mark.parametrize(
    ("s3", "why"),
    [
        ({"S3Uri": "s3://b/p/", "S3DataType": "S3Prefix", "CompressionType": "Gzip"}, "Gzip"),
        ({"S3Uri": "s3://b/p", "S3DataType": "S3Prefix", "CompressionType": "None"}, "end with"),
        ({"S3Uri": "s3://b/d/", "S3DataType": "S3Object", "CompressionType": "None"}, "prefix"),
        ({"S3Uri": "s3://b", "S3DataType": "S3Object", "CompressionType": "Gzip"}, "a bucket"),
        ({"S3Uri": "s3://b/k", "S3DataType": "Blob", "CompressionType": "None"}, "S3DataType"),
        ({"S3Uri": "s3://b/k", "S3DataType": "S3Object", "CompressionType": "Zip"}, "Gzip"),
        ({"S3DataType": "S3Object"}, "no S3Uri"),
        ({"S3Uri": "s3://b/k", "ManifestS3Uri": "s3://b/m.csv"}, "ManifestS3Uri"),
    ],
)
def test_bad_model_data_sources(s3: dict[str, str], why: str) -> None:
    with pytest.raises(ArtifactError, match=why):
        ModelSource.from_model_data_source({"S3DataSource": s3})


def test_of_maps_the_domain_flags() -> None:
    source = ModelSource.of("/srv/model", prefix=True, compressed=False)
    assert source.data_type is S3DataType.PREFIX
    assert source.location.kind is LocationKind.LOCAL


def test_prefix_key_rules_follow_sagemaker() -> None:
    assert prefix_key_parts("a/b/c.bin") == ("a", "b", "c.bin")
    for bad in ("", "a//b", "dir/", "./x", "a/../b", " ", "x" * 256):
        with pytest.raises(UnsafeName):
            prefix_key_parts(bad)
    assert find_clash([("weights",), ("weights", "part1")]) == ("weights",)
    assert find_clash([("a", "b"), ("a", "c"), ("d",)]) is None
