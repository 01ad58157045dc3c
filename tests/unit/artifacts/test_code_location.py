"""Reading SAGEMAKER_SUBMIT_DIRECTORY into a CodeLocation (pure)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from moorage.artifacts import ArtifactError, CodeLocation
from moorage.artifacts.locations import CompressionType, LocationKind, S3DataType


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        (None, "code"),
        ("", "code"),
        ("/opt/ml/model/code", "code"),
        ("/opt/ml/model/code/", "code"),
        ("file:///opt/ml/model/code", "code"),
        ("/opt/ml/model", "."),
        ("/opt/ml/model/src/lib", "src/lib"),
        ("/opt/ml/model/code/../other", "other"),
    ],
)
def test_code_inside_the_model_directory(value: str | None, inside: str) -> None:
    location = CodeLocation.of(value)
    assert location.in_model == PurePosixPath(inside)
    assert location.source is None


def test_sdk_sourcedir_archive() -> None:
    location = CodeLocation.of("s3://bucket/model-a/sourcedir.tar.gz")
    assert location.in_model is None
    assert location.source is not None
    assert location.source.location.kind is LocationKind.S3
    assert (location.source.location.bucket, location.source.location.key) == (
        "bucket",
        "model-a/sourcedir.tar.gz",
    )
    assert location.source.compression is CompressionType.GZIP


def test_s3_prefix_is_read_as_files() -> None:
    location = CodeLocation.of("s3://bucket/code/")
    assert location.source is not None
    assert location.source.data_type is S3DataType.PREFIX
    assert location.source.compression is CompressionType.NONE


@pytest.mark.parametrize("value", ["file:///home/me/src", "/home/me/src", "/opt/ml/modelx/code"])
def test_local_paths(value: str) -> None:
    location = CodeLocation.of(value)
    assert location.source is not None
    assert location.source.location.kind is LocationKind.LOCAL


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("code", "is not an absolute path"),
        ("./src", "is not an absolute path"),
        ("http://example.com/src.tar.gz", "is not supported"),
        ("gs://bucket/src.tar.gz", "is not supported"),
        ("https://example.com/src.tar.gz", "is not an Amazon S3 URL"),
        ("s3:///key.tar.gz", "names no bucket"),
        ("s3://bucket", "names a bucket, not an object"),
        ("file://otherhost/src", "names host"),
        ("file://otherhost/opt/ml/model/code", "names host"),
        (" /src", "white space"),
        ("/src\0x", "NUL"),
    ],
)
def test_unusable_values_name_the_variable(value: str, says: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        CodeLocation.of(value)
    assert str(caught.value).startswith("SAGEMAKER_SUBMIT_DIRECTORY ")
    assert says in str(caught.value)
