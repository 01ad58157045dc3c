"""The validator's messages and conversions, in-process."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from moorage.api.patterns import compile_pattern
from moorage.api.service_models import operation_model, service_model
from moorage.api.validate import validate
from moorage.errors import SerializationError, ValidationError


def shape(op: str) -> Any:
    return operation_model("sagemaker", op).input_shape


def message(op: str, params: Any) -> str:
    with pytest.raises(ValidationError) as err:
        validate(shape(op), params)
    return err.value.message


def test_single_error_form() -> None:
    assert message("DescribeEndpointConfig", {"EndpointConfigName": "x" * 64}).startswith(
        "2 validation errors detected: Value '"
    )
    text = message("DescribeModel", {})
    assert text == (
        "1 validation error detected: Value null at 'modelName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_nested_paths_and_enum() -> None:
    text = message(
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {"VariantName": "v", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1},
                {"VariantName": "w", "InstanceType": "nope", "InitialInstanceCount": 1},
            ],
        },
    )
    assert "'productionVariants.2.member.instanceType'" in text
    assert "Member must satisfy enum value set: [" in text


def test_numbers_and_ranges() -> None:
    text = message(
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {"VariantName": "v", "InstanceType": "ml.m5.large", "InitialInstanceCount": 0}
            ],
        },
    )
    assert "Member must have value greater than or equal to 1" in text
    assert "Member must be an integer" in message("ListModels", {"MaxResults": "ten"})
    assert "Member must be an integer" in message("ListModels", {"MaxResults": True})


def test_conversions() -> None:
    params = validate(
        shape("ListModels"),
        {"CreationTimeAfter": 10, "CreationTimeBefore": "2026-01-01T00:00:00Z", "MaxResults": 5.0},
    )
    assert params["CreationTimeAfter"] == 10.0
    assert params["CreationTimeBefore"] == dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    assert params["MaxResults"] == 5


def test_local_urls_are_a_documented_extension() -> None:
    base = {"ModelName": "m", "PrimaryContainer": {"Image": "i"}}
    for url in ("file:///srv/model.tar.gz", "/srv/model.tar.gz", "s3://b/k.tar.gz"):
        validate(
            shape("CreateModel"), {**base, "PrimaryContainer": {"Image": "i", "ModelDataUrl": url}}
        )
    text = message(
        "CreateModel", {**base, "PrimaryContainer": {"Image": "i", "ModelDataUrl": "ftp://x"}}
    )
    assert "'primaryContainer.modelDataUrl'" in text


def test_null_members_are_absent() -> None:
    assert validate(shape("ListModels"), {"NameContains": None}) == {}


def test_not_an_object() -> None:
    with pytest.raises(SerializationError):
        validate(shape("ListModels"), [1, 2])


def test_every_pattern_compiles() -> None:
    for service in ("sagemaker", "sagemaker-runtime", "cloudwatch"):
        model = service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                assert compile_pattern(pattern) is not None, (service, name, pattern)
