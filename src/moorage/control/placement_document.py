"""The placement of an endpoint's inference components, as a JSON-able document.

Served as ``GET /moorage/placement/{endpoint}`` (:mod:`moorage.api.placement_page`)
and printed by ``moorage placement``: per production variant, every instance
with the copies it holds and the capacity left (the views of
:mod:`moorage.placement.view`), plus the components with their copy counts.
Keys are snake_case: this is moorage's own view, not an AWS shape.
"""

from __future__ import annotations

from typing import Any

from moorage.control.inference_components import InferenceComponentsService
from moorage.deploy.component_rollout import rolling_of
from moorage.domain.inference_component import InferenceComponent
from moorage.errors import ValidationError
from moorage.placement import placement_json


def placement_document(service: InferenceComponentsService, endpoint_name: str) -> dict[str, Any]:
    endpoint = service.endpoints.get(endpoint_name)
    config = service.endpoints.config(endpoint.config_name)
    if not config.component_based:
        raise ValidationError(
            f"Endpoint {endpoint.name} does not host inference components: its production "
            "variants name models, one model-server process per instance."
        )
    placement = service.placement(endpoint, config)
    variants = []
    for capacity in placement.variants:
        spec = config.variant(capacity.variant)
        variants.append(
            {
                "variant": capacity.variant,
                "instance_type": capacity.instance_type.name,
                "managed_instance_scaling": spec.spec.get("ManagedInstanceScaling")
                if spec
                else None,
                "generations": dict(sorted(capacity.generations.items())),
                **placement_json(capacity.instances),
            }
        )
    components = [
        {
            "name": c.name,
            "variant": c.variant,
            "status": c.status.value,
            "base": c.base,
            "desired_copies": None if c.is_adapter else c.desired_copies,
            "current_copies": None if c.is_adapter else c.current_copies,
            "failure_reason": c.failure_reason,
            "rolling_update": _rolling_update(c),
        }
        for c in sorted(service.on_endpoint(endpoint.name), key=lambda c: c.name.lower())
    ]
    return {
        "endpoint": endpoint.name,
        "endpoint_status": endpoint.status.value,
        "variants": variants,
        "components": components,
    }


def _rolling_update(component: InferenceComponent) -> dict[str, Any] | None:
    """The step a rolling update is at (a DeploymentConfig's batches), if one is under way."""
    rollout = rolling_of(component)
    if rollout is None:
        return None
    return {
        "step": rollout.current.name,
        "phase": rollout.phase.value,
        "rolling_back": rollout.rolling_back,
        "reason": rollout.reason,
    }
