"""Deploying endpoints through boto3 in tests."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"


def create_model(sm: Any, name: str, url: str, **container: Any) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": url, **container},
        ExecutionRoleArn=ROLE,
    )


def variant(name: str, model: str, *, count: int = 1, weight: float = 1.0, **extra: Any) -> Any:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
        **extra,
    }


def create_endpoint(sm: Any, name: str, variants: Sequence[Any]) -> None:
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=list(variants))
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def deploy(sm: Any, name: str, url: str, *, count: int = 1, **container: Any) -> None:
    """Model, config and endpoint all named ``name``; returns once InService."""
    create_model(sm, name, url, **container)
    create_endpoint(sm, name, [variant("AllTraffic", name, count=count)])
    wait_in_service(sm, name)


def wait_in_service(sm: Any, name: str, attempts: int = 120) -> None:
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": attempts}
    )


def wait_status(sm: Any, name: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] == status:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is {described['EndpointStatus']}, not {status}")
        time.sleep(0.2)


def delete(sm: Any, name: str) -> None:
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )
