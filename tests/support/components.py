"""Endpoints for inference components, and components on them, through boto3."""

from __future__ import annotations

import time
from typing import Any

from support.endpoints import ROLE, wait_in_service


def component_endpoint(
    sm: Any,
    name: str,
    *,
    instance_type: str = "ml.m5.xlarge",
    count: int = 1,
    variants: tuple[str, ...] = ("AllTraffic",),
    **variant_extra: Any,
) -> None:
    """An endpoint whose variants name no model (capacity for components); waits for InService."""
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {
                "VariantName": variant,
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
                **variant_extra,
            }
            for variant in variants
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)


def compute(cpus: float = 1, memory: int = 1024, **extra: Any) -> dict[str, Any]:
    return {"NumberOfCpuCoresRequired": cpus, "MinMemoryRequiredInMb": memory, **extra}


def create_component(
    sm: Any,
    name: str,
    endpoint: str,
    *,
    model: str | None = None,
    copies: int = 1,
    cpus: float = 1,
    memory: int = 1024,
    variant: str = "AllTraffic",
    **spec: Any,
) -> str:
    specification: dict[str, Any] = {"ComputeResourceRequirements": compute(cpus, memory), **spec}
    if model is not None:
        specification["ModelName"] = model
    arn: str = sm.create_inference_component(
        InferenceComponentName=name,
        EndpointName=endpoint,
        VariantName=variant,
        Specification=specification,
        RuntimeConfig={"CopyCount": copies},
    )["InferenceComponentArn"]
    return arn


def wait_component(sm: Any, name: str, status: str = "InService", timeout: float = 60.0) -> Any:
    """Describe ``name`` until its status is ``status`` (and no longer in progress)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_inference_component(InferenceComponentName=name)
        if described["InferenceComponentStatus"] == status:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{name} is {described['InferenceComponentStatus']}, not {status}: "
                f"{described.get('FailureReason')}"
            )
        time.sleep(0.1)


def wait_component_gone(sm: Any, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = sm.list_inference_components(NameContains=name, MaxResults=100)
        if not any(c["InferenceComponentName"] == name for c in listed["InferenceComponents"]):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} was not deleted")


def delete_component(sm: Any, name: str) -> None:
    sm.delete_inference_component(InferenceComponentName=name)
    wait_component_gone(sm, name)
