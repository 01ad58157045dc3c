"""DataCaptureConfig through a real server: DescribeEndpoint summary, CreateEndpointConfig checks.

What is captured, and how, is tested end to end in ``tests/e2e/test_capture.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.capture import KMS_KEY, data_capture_config
from support.names import unique


def _model(sm: Any) -> str:
    name = unique("cap-model")
    sm.create_model(ModelName=name, PrimaryContainer={"Image": "img"})
    return name


def _variant(model: str) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }


def _endpoint(sm: Any, capture: dict[str, Any] | None) -> str:
    name = unique("cap")
    extra = {} if capture is None else {"DataCaptureConfig": capture}
    sm.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[_variant(_model(sm))], **extra
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name


def test_describe_endpoint_summarises_the_capture_config(sm: Any) -> None:
    capture = data_capture_config(
        "s3://capture-bucket/endpoints",
        percentage=37,
        modes=("Input", "Output"),
        csv=("text/csv",),
        KmsKeyId=KMS_KEY,
    )
    name = _endpoint(sm, capture)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 37,
        "DestinationS3Uri": "s3://capture-bucket/endpoints",
        "KmsKeyId": KMS_KEY,
    }
    # The endpoint config keeps the DataCaptureConfig exactly as given.
    config = sm.describe_endpoint_config(EndpointConfigName=name)
    assert config["DataCaptureConfig"] == capture
    sm.delete_endpoint(EndpointName=name)


def test_disabled_capture_is_stopped_and_no_key_is_left_out(sm: Any, tmp_path: Path) -> None:
    destination = (tmp_path / "capture").as_uri()
    name = _endpoint(sm, data_capture_config(destination, percentage=0, EnableCapture=False))
    assert sm.describe_endpoint(EndpointName=name)["DataCaptureConfig"] == {
        "EnableCapture": False,
        "CaptureStatus": "Stopped",
        "CurrentSamplingPercentage": 0,
        "DestinationS3Uri": destination,
    }
    sm.delete_endpoint(EndpointName=name)


def test_no_capture_config_no_summary(sm: Any) -> None:
    name = _endpoint(sm, None)
    assert "DataCaptureConfig" not in sm.describe_endpoint(EndpointName=name)
    sm.delete_endpoint(EndpointName=name)


@pytest.mark.parametrize(
    ("destination", "why"),
    [
        ("https://example.com/capture", "is not an Amazon S3 URL"),
        ("file://otherhost/capture", "names host 'otherhost'"),
    ],
)
def test_unusable_destinations_are_refused(sm: Any, destination: str, why: str) -> None:
    name = unique("cap-bad")
    with pytest.raises(ClientError) as caught:
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[_variant(_model(sm))],
            DataCaptureConfig=data_capture_config(destination),
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("DataCaptureConfig is not valid: capture destination")
    assert why in error["Message"]
    with pytest.raises(ClientError):
        sm.describe_endpoint_config(EndpointConfigName=name)


def test_shape_errors_are_validation_exceptions(sm: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sm.create_endpoint_config(
            EndpointConfigName=unique("cap-bad"),
            ProductionVariants=[_variant(_model(sm))],
            DataCaptureConfig=data_capture_config("s3://bucket/x", modes=("Everything",)),
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "captureOptions.1.member.captureMode" in error["Message"]
