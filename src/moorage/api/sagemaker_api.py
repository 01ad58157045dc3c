"""The SageMaker operation table: operation name → control-plane handler.

An explicit table (no reflection): an operation that is not listed answers
``NotImplemented`` naming it (see :class:`moorage.api.json_protocol.JsonService`).
"""

from __future__ import annotations

from moorage.api.json_protocol import Handler, JsonService
from moorage.api.service_models import SAGEMAKER
from moorage.control.plane import ControlPlane


def sagemaker_handlers(plane: ControlPlane) -> dict[str, Handler]:
    models = plane.models
    configs = plane.endpoint_configs
    endpoints = plane.endpoints
    tags = plane.tags
    components = plane.inference_components
    experiments = plane.experiments
    return {
        "CreateModel": models.create_model,
        "DescribeModel": models.describe_model,
        "DeleteModel": models.delete_model,
        "ListModels": models.list_models,
        "CreateEndpointConfig": configs.create_endpoint_config,
        "DescribeEndpointConfig": configs.describe_endpoint_config,
        "DeleteEndpointConfig": configs.delete_endpoint_config,
        "ListEndpointConfigs": configs.list_endpoint_configs,
        "CreateEndpoint": endpoints.create_endpoint,
        "DescribeEndpoint": endpoints.describe_endpoint,
        "DeleteEndpoint": endpoints.delete_endpoint,
        "ListEndpoints": endpoints.list_endpoints,
        "UpdateEndpoint": plane.endpoint_updates.update_endpoint,
        "UpdateEndpointWeightsAndCapacities": (
            plane.endpoint_updates.update_endpoint_weights_and_capacities
        ),
        "CreateInferenceComponent": components.create_inference_component,
        "DescribeInferenceComponent": components.describe_inference_component,
        "ListInferenceComponents": components.list_inference_components,
        "UpdateInferenceComponent": components.update_inference_component,
        "UpdateInferenceComponentRuntimeConfig": (
            components.update_inference_component_runtime_config
        ),
        "DeleteInferenceComponent": components.delete_inference_component,
        "CreateInferenceExperiment": experiments.create_inference_experiment,
        "DescribeInferenceExperiment": experiments.describe_inference_experiment,
        "ListInferenceExperiments": experiments.list_inference_experiments,
        "UpdateInferenceExperiment": experiments.update_inference_experiment,
        "StartInferenceExperiment": experiments.start_inference_experiment,
        "StopInferenceExperiment": experiments.stop_inference_experiment,
        "DeleteInferenceExperiment": experiments.delete_inference_experiment,
        "AddTags": tags.add_tags,
        "ListTags": tags.list_tags,
        "DeleteTags": tags.delete_tags,
    }


def sagemaker_service(plane: ControlPlane) -> JsonService:
    return JsonService(
        SAGEMAKER,
        sagemaker_handlers(plane),
        not_implemented_hint=(
            " moorage implements SageMaker real-time hosting (docs/api-coverage.md)."
        ),
    )
