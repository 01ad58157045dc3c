"""DescribeInferenceExperiment and ListInferenceExperiments responses, built explicitly."""

from __future__ import annotations

from typing import Any

from moorage.control.experiment_spec import ShadowMode
from moorage.deploy.experiment_machine import variant_statuses
from moorage.domain.endpoint import Endpoint
from moorage.domain.inference_experiment import TYPE_SHADOW_MODE, Experiment


def schedule_wire(experiment: Experiment) -> dict[str, Any]:
    return {"StartTime": experiment.start, "EndTime": experiment.end}


def shadow_mode_wire(experiment: Experiment) -> dict[str, Any]:
    return ShadowMode(
        experiment.source_variant, experiment.shadow_variant, experiment.sampling_percentage
    ).to_wire()


def endpoint_metadata(experiment: Experiment, endpoint: Endpoint | None) -> dict[str, Any]:
    if endpoint is None:
        return {"EndpointName": experiment.endpoint_name}
    return {
        "EndpointName": endpoint.name,
        "EndpointConfigName": endpoint.config_name,
        "EndpointStatus": endpoint.status.value,
        "FailureReason": endpoint.failure_reason,
    }


def describe_wire(experiment: Experiment, endpoint: Endpoint | None) -> dict[str, Any]:
    statuses = variant_statuses(experiment)
    return {
        "Arn": experiment.arn,
        "Name": experiment.name,
        "Type": TYPE_SHADOW_MODE,
        "Schedule": schedule_wire(experiment),
        "Status": experiment.status.value,
        "StatusReason": experiment.status_reason,
        "Description": experiment.description,
        "CreationTime": experiment.created,
        "CompletionTime": experiment.completion,
        "LastModifiedTime": experiment.modified,
        "RoleArn": experiment.role_arn,
        "EndpointMetadata": endpoint_metadata(experiment, endpoint),
        "ModelVariants": [
            {**v.to_wire(), "Status": statuses[v.variant_name].value}
            for v in experiment.model_variants
        ],
        "DataStorageConfig": experiment.data_storage,
        "ShadowModeConfig": shadow_mode_wire(experiment),
        "KmsKey": experiment.kms_key,
    }


def summary_wire(experiment: Experiment) -> dict[str, Any]:
    return {
        "Name": experiment.name,
        "Type": TYPE_SHADOW_MODE,
        "Schedule": schedule_wire(experiment),
        "Status": experiment.status.value,
        "StatusReason": experiment.status_reason,
        "Description": experiment.description,
        "CreationTime": experiment.created,
        "CompletionTime": experiment.completion,
        "LastModifiedTime": experiment.modified,
        "RoleArn": experiment.role_arn,
    }
