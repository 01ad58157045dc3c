"""Endpoint configurations through a real server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.names import unique

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def make_model(sm: Any) -> str:
    name = unique("cfg-model")
    sm.create_model(ModelName=name, PrimaryContainer={"Image": "img"})
    return name


def variant(model: str | None, name: str = "AllTraffic", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "VariantName": name,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        **extra,
    }
    if model:
        spec["ModelName"] = model
    return spec


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def test_create_describe_delete(sm: Any) -> None:
    model = make_model(sm)
    name = unique("Config")
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": "s3://bucket/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    arn = sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            variant(
                model,
                InitialVariantWeight=2.0,
                RoutingConfig={"RoutingStrategy": "RANDOM"},
                ContainerStartupHealthCheckTimeoutInSeconds=120,
            )
        ],
        DataCaptureConfig=capture,
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://bucket/async"}},
        Tags=[{"Key": "team", "Value": "ml"}],
    )["EndpointConfigArn"]
    assert arn.endswith(f":endpoint-config/{name.lower()}")

    described = sm.describe_endpoint_config(EndpointConfigName=name)
    assert described["EndpointConfigName"] == name
    pv = described["ProductionVariants"][0]
    assert pv["InitialVariantWeight"] == 2.0
    assert pv["RoutingConfig"] == {"RoutingStrategy": "RANDOM"}
    assert described["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    assert described["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"] == "s3://bucket/async"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    sm.delete_endpoint_config(EndpointConfigName=name)
    with pytest.raises(ClientError) as err:
        sm.describe_endpoint_config(EndpointConfigName=name)
    assert error_of(err) == (
        "ValidationException",
        f'Could not find endpoint configuration "{arn}".',
    )
    with pytest.raises(ClientError):
        sm.list_tags(ResourceArn=arn)


def test_duplicate_config(sm: Any) -> None:
    model = make_model(sm)
    name = unique("dup-config")
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant(model)])
    with pytest.raises(ClientError) as err:
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant(model)])
    code, message = error_of(err)
    assert code == "ValidationException"
    assert message.startswith('Cannot create already existing endpoint configuration "arn:aws:')


def test_missing_model_changes_nothing(sm: Any) -> None:
    name = unique("no-model")
    with pytest.raises(ClientError) as err:
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant("ghost")])
    assert error_of(err) == (
        "ValidationException",
        'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/ghost".',
    )
    with pytest.raises(ClientError):
        sm.describe_endpoint_config(EndpointConfigName=name)


def test_variant_rules(sm: Any) -> None:
    model = make_model(sm)
    cases: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = [
        ([variant(model), variant(model)], {}, "unique"),
        ([variant(model), variant(None, name="b")], {}, "Either every production variant"),
        ([variant(None)], {}, "ExecutionRoleArn is required"),
        (
            [{"VariantName": "v", "ModelName": model, "InstanceType": "ml.m5.large"}],
            {},
            "InitialInstanceCount are required",
        ),
    ]
    for variants, extra, fragment in cases:
        with pytest.raises(ClientError) as err:
            sm.create_endpoint_config(
                EndpointConfigName=unique("rules"), ProductionVariants=variants, **extra
            )
        code, message = error_of(err)
        assert code == "ValidationException"
        assert fragment in message


def test_component_capacity_config(sm: Any) -> None:
    name = unique("ic-capacity")
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            variant(
                None,
                ManagedInstanceScaling={
                    "Status": "ENABLED",
                    "MinInstanceCount": 1,
                    "MaxInstanceCount": 4,
                },
            )
        ],
    )
    described = sm.describe_endpoint_config(EndpointConfigName=name)
    assert described["ExecutionRoleArn"] == ROLE
    assert described["ProductionVariants"][0]["ManagedInstanceScaling"]["MaxInstanceCount"] == 4


def test_shadow_variant_is_kept(sm: Any) -> None:
    model = make_model(sm)
    name = unique("shadow-config")
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant(model)],
        ShadowProductionVariants=[variant(model, name="Shadow")],
    )
    described = sm.describe_endpoint_config(EndpointConfigName=name)
    assert described["ShadowProductionVariants"][0]["VariantName"] == "Shadow"


def test_list_endpoint_configs(sm: Any) -> None:
    model = make_model(sm)
    stem = unique("list-cfg")
    for i in range(3):
        sm.create_endpoint_config(
            EndpointConfigName=f"{stem}-{i}", ProductionVariants=[variant(model)]
        )
    listed = sm.list_endpoint_configs(NameContains=stem, SortBy="Name", SortOrder="Ascending")
    assert [c["EndpointConfigName"] for c in listed["EndpointConfigs"]] == [
        f"{stem}-{i}" for i in range(3)
    ]
