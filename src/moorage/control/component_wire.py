"""DescribeInferenceComponent and ListInferenceComponents responses, built explicitly."""

from __future__ import annotations

from typing import Any

from moorage.domain.inference_component import InferenceComponent

# FailureReason's length limit in the service model.
MAX_FAILURE_REASON = 1024

# Members of InferenceComponentSpecification echoed as they were given.
_ECHOED = (
    "InstanceType",
    "ModelName",
    "StartupParameters",
    "ComputeResourceRequirements",
    "BaseInferenceComponentName",
    "DataCacheConfig",
    "SchedulingConfig",
)


def specification_summary(component: InferenceComponent) -> dict[str, Any]:
    """``InferenceComponentSpecificationSummary``: the Specification as stored.

    The container's ``Image`` is reported as ``DeployedImage`` (with the
    image that ran it once a copy has started), as AWS reports it.
    """
    spec = component.spec
    summary: dict[str, Any] = {key: spec.get(key) for key in _ECHOED}
    container = spec.get("Container")
    deployed = _deployed_image(component)
    if container is not None:
        summary["Container"] = {
            "DeployedImage": deployed,
            "ArtifactUrl": container.get("ArtifactUrl"),
            "Environment": container.get("Environment"),
            "ContainerMetricsConfig": container.get("ContainerMetricsConfig"),
        }
    elif deployed is not None:
        summary["Container"] = {"DeployedImage": deployed}
    return summary


def _deployed_image(component: InferenceComponent) -> dict[str, Any] | None:
    container = component.spec.get("Container") or {}
    specified = container.get("Image")
    observed = component.deployed_image
    if observed is not None and (specified is None or observed[0] == specified):
        return {
            "SpecifiedImage": observed[0],
            "ResolvedImage": observed[1],
            "ResolutionTime": observed[2],
        }
    if specified:
        return {"SpecifiedImage": specified}
    return None


def describe_wire(component: InferenceComponent) -> dict[str, Any]:
    runtime = None
    if not component.is_adapter:
        runtime = {
            "DesiredCopyCount": component.desired_copies,
            "CurrentCopyCount": component.current_copies,
        }
    return {
        "InferenceComponentName": component.name,
        "InferenceComponentArn": component.arn,
        "EndpointName": component.endpoint_name,
        "EndpointArn": component.endpoint_arn,
        "VariantName": component.variant,
        "FailureReason": _bounded(component.failure_reason),
        "Specification": specification_summary(component),
        "RuntimeConfig": runtime,
        "CreationTime": component.created,
        "LastModifiedTime": component.modified,
        "InferenceComponentStatus": component.status.value,
        "LastDeploymentConfig": component.last_deployment_config,
    }


def _bounded(reason: str | None) -> str | None:
    """A reason within the shape's limit (a placement message can list many instances)."""
    if reason is None or len(reason) <= MAX_FAILURE_REASON:
        return reason
    return reason[: MAX_FAILURE_REASON - 3] + "..."


def summary_wire(component: InferenceComponent) -> dict[str, Any]:
    return {
        "CreationTime": component.created,
        "InferenceComponentArn": component.arn,
        "InferenceComponentName": component.name,
        "EndpointArn": component.endpoint_arn,
        "EndpointName": component.endpoint_name,
        "VariantName": component.variant,
        "InferenceComponentStatus": component.status.value,
        "LastModifiedTime": component.modified,
    }
