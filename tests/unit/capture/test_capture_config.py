"""Parsing DataCaptureConfig and DataStorageConfig into a CaptureConfig."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.capture import CaptureConfig, CaptureConfigError, DestinationKind, parse_destination


def capture_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 25,
        "DestinationS3Uri": "s3://bucket/data-capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json", "Application/JSONLines"],
        },
    }
    config.update(overrides)
    return config


def test_data_capture_config() -> None:
    config = CaptureConfig.from_data_capture_config(
        capture_config(KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/k")
    )
    assert config.destination.kind is DestinationKind.S3
    assert (config.destination.bucket, config.destination.prefix) == ("bucket", "data-capture")
    assert config.destination_uri == "s3://bucket/data-capture"
    assert config.sampling_percentage == 25
    assert config.capture_input and config.capture_output and config.enabled
    assert config.csv_content_types == ("text/csv",)
    assert config.json_content_types == ("application/json", "application/jsonlines")
    assert config.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/k"


@pytest.mark.parametrize(
    ("modes", "wants"),
    [
        (["Input"], (True, False)),
        (["Output"], (False, True)),
        (["InputAndOutput"], (True, True)),
        (["Output", "Input"], (True, True)),
    ],
)
def test_capture_modes(modes: list[str], wants: tuple[bool, bool]) -> None:
    options = [{"CaptureMode": mode} for mode in modes]
    config = CaptureConfig.from_data_capture_config(capture_config(CaptureOptions=options))
    assert (config.capture_input, config.capture_output) == wants


def test_defaults_when_optional_members_are_absent() -> None:
    config = CaptureConfig.from_data_capture_config(
        {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://bucket",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        }
    )
    assert config.enabled
    assert config.destination.prefix == ""
    # Without CaptureContentTypeHeader everything is base64-encoded.
    assert config.csv_content_types == () and config.json_content_types == ()
    assert config.kms_key_id is None


def test_disabled_capture_is_kept_as_disabled() -> None:
    assert not CaptureConfig.from_data_capture_config(capture_config(EnableCapture=False)).enabled


def test_data_storage_config_captures_everything() -> None:
    config = CaptureConfig.from_data_storage_config(
        {
            "Destination": "s3://bucket/shadow/",
            "KmsKey": "alias/capture",
            "ContentType": {"CsvContentTypes": ["text/csv"]},
        }
    )
    assert config.sampling_percentage == 100
    assert config.capture_input and config.capture_output and config.enabled
    assert config.destination.prefix == "shadow"
    assert config.csv_content_types == ("text/csv",)
    assert config.json_content_types == ()
    assert config.kms_key_id == "alias/capture"


@pytest.mark.parametrize(
    "change",
    [
        {"InitialSamplingPercentage": 101},
        {"InitialSamplingPercentage": -1},
        {"InitialSamplingPercentage": "50"},
        {"CaptureOptions": []},
        {"CaptureOptions": [{"CaptureMode": "Both"}]},
        {"DestinationS3Uri": ""},
        {"DestinationS3Uri": "relative/path"},
        {"DestinationS3Uri": "s3:///no-bucket"},
        {"DestinationS3Uri": "file://host/x"},
        {"DestinationS3Uri": "https://example.com/bucket/x"},
    ],
)
def test_unusable_configs_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(CaptureConfigError):
        CaptureConfig.from_data_capture_config(capture_config(**change))


def test_data_storage_config_needs_a_destination() -> None:
    with pytest.raises(CaptureConfigError, match=r"DataStorageConfig\.Destination"):
        CaptureConfig.from_data_storage_config({})


def test_destinations() -> None:
    local = parse_destination("file:///var/capture/")
    assert (local.kind, local.path) == (DestinationKind.LOCAL, "/var/capture")
    assert local.join("ep/v/x.jsonl") == "/var/capture/ep/v/x.jsonl"
    assert local.uri("ep/v/x.jsonl") == "file:///var/capture/ep/v/x.jsonl"
    assert parse_destination("/var/capture").path == "/var/capture"
    s3 = parse_destination("s3://bucket/a/b/")
    assert s3.join("ep/v/x.jsonl") == "a/b/ep/v/x.jsonl"
    assert s3.uri("ep/v/x.jsonl") == "s3://bucket/a/b/ep/v/x.jsonl"
    assert parse_destination("s3://bucket").join("ep/x.jsonl") == "ep/x.jsonl"
    virtual = parse_destination("https://bucket.s3.us-west-2.amazonaws.com/cap")
    assert (virtual.bucket, virtual.prefix) == ("bucket", "cap")
    path_style = parse_destination("https://s3.us-west-2.amazonaws.com/bucket/cap")
    assert (path_style.bucket, path_style.prefix) == ("bucket", "cap")


def test_with_sampling() -> None:
    config = CaptureConfig.from_data_capture_config(capture_config())
    assert config.with_sampling(5).sampling_percentage == 5
    assert config.with_sampling(5).destination == config.destination
    with pytest.raises(CaptureConfigError):
        config.with_sampling(200)
