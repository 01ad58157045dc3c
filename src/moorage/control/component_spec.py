"""Checks of an inference component's Specification and RuntimeConfig beyond the shapes.

botocore's shapes (checked by :mod:`moorage.api.validate` before a handler
runs) give types, ranges and patterns; this module adds what the API
reference states in prose, with AWS-style messages: a component names a
model *or* a container, an adapter component (``BaseInferenceComponentName``)
brings only its artifacts, the environment holds at most 16 entries, and so
on. Cross-references (models, the base component) are checked against the
store. Used by :mod:`moorage.control.inference_components`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.api.validate import format_errors, show
from moorage.control.context import ControlContext
from moorage.domain import inference_component as ic
from moorage.domain import model as model_domain
from moorage.domain.endpoint_config import VariantSpec
from moorage.errors import ValidationError

# The API reference: "We support up to 16 entries in the map" (botocore allows 100).
MAX_ENVIRONMENT_ENTRIES = 16

_ADAPTER = "an adapter inference component (one with BaseInferenceComponentName)"


def check_specification_choice(params: Mapping[str, Any], *, required: bool) -> None:
    """Specification (singular) is what moorage serves; Specifications is refused clearly."""
    if "Specification" in params and "Specifications" in params:
        raise ValidationError("Specify either Specification or Specifications, not both.")
    if "Specifications" in params:
        raise ValidationError(
            "Specifications (one specification per instance type) is not supported by moorage: "
            "a moorage production variant has a single instance type. Use Specification."
        )
    if required and "Specification" not in params:
        raise ValidationError(
            format_errors(
                [
                    "Value null at 'specification' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        )


def check_specification(spec: Mapping[str, Any], variant: VariantSpec) -> None:
    """What the specification must say, whether it is an adapter or not."""
    compute = spec.get("ComputeResourceRequirements")
    container = spec.get("Container") or {}
    instance_type = spec.get("InstanceType")
    if instance_type is not None and instance_type != variant.instance_type:
        raise ValidationError(
            f"Specification.InstanceType {instance_type} does not match the instance type "
            f"{variant.instance_type} of production variant {variant.name}."
        )
    if spec.get("BaseInferenceComponentName"):
        _check_adapter(spec, compute, container)
    else:
        _check_base(spec, compute, container)
    if compute:
        _check_compute(compute)
    _check_environment(container.get("Environment"))


def _check_adapter(
    spec: Mapping[str, Any], compute: Mapping[str, Any] | None, container: Mapping[str, Any]
) -> None:
    if compute:
        raise ValidationError(
            f"ComputeResourceRequirements must not be specified for {_ADAPTER}: it uses the "
            "compute resources of its base inference component."
        )
    if spec.get("ModelName"):
        raise ValidationError(
            f"ModelName must not be specified for {_ADAPTER}: give the location of the "
            "adapter's artifacts in Container.ArtifactUrl."
        )
    if container.get("Image"):
        raise ValidationError(
            f"Container.Image must not be specified for {_ADAPTER}: it runs in the container "
            "of its base inference component."
        )
    if not container.get("ArtifactUrl"):
        raise ValidationError(
            f"Container.ArtifactUrl is required for {_ADAPTER}: it locates the adapter's artifacts."
        )
    if spec.get("SchedulingConfig"):
        raise ValidationError(
            f"SchedulingConfig must not be specified for {_ADAPTER}: it has no copies of its own."
        )


def _check_base(
    spec: Mapping[str, Any], compute: Mapping[str, Any] | None, container: Mapping[str, Any]
) -> None:
    if not compute:
        raise ValidationError(
            "ComputeResourceRequirements is required unless BaseInferenceComponentName is "
            "specified (an adapter inference component)."
        )
    has_model = bool(spec.get("ModelName"))
    if has_model and spec.get("Container"):
        raise ValidationError("Specify either ModelName or Container in Specification, not both.")
    if not has_model and not spec.get("Container"):
        raise ValidationError("Specification must name a ModelName or give a Container.")
    if not has_model and not container.get("Image"):
        raise ValidationError("Container.Image is required when Specification names no ModelName.")


def _check_compute(compute: Mapping[str, Any]) -> None:
    low = compute.get("MinMemoryRequiredInMb")
    high = compute.get("MaxMemoryRequiredInMb")
    if low is not None and high is not None and high < low:
        raise ValidationError(
            f"MaxMemoryRequiredInMb ({high}) must not be less than MinMemoryRequiredInMb ({low})."
        )
    if compute.get("AcceleratorPartitionType"):
        raise ValidationError(
            "AcceleratorPartitionType applies only to an endpoint whose production variant has "
            "an accelerator partition layout; moorage endpoints have none, so omit it to place "
            "the inference component on whole accelerator devices."
        )


def _check_environment(environment: Mapping[str, str] | None) -> None:
    if environment and len(environment) > MAX_ENVIRONMENT_ENTRIES:
        raise ValidationError(
            format_errors(
                [
                    f"Value {show(dict(environment))} at 'specification.container.environment' "
                    "failed to satisfy constraint: Member must have length less than or equal "
                    f"to {MAX_ENVIRONMENT_ENTRIES}"
                ]
            )
        )


def check_runtime_config(spec: Mapping[str, Any], runtime: Mapping[str, Any] | None) -> None:
    """A base component needs a copy count; an adapter is served by its base's copies."""
    if spec.get("BaseInferenceComponentName"):
        if runtime is not None:
            raise ValidationError(
                f"RuntimeConfig must not be specified for {_ADAPTER}: every copy of its base "
                "inference component serves it."
            )
    elif runtime is None:
        raise ValidationError(
            "RuntimeConfig is required unless BaseInferenceComponentName is specified "
            "(an adapter inference component)."
        )


def check_model(ctx: ControlContext, spec: Mapping[str, Any]) -> None:
    name = spec.get("ModelName")
    if not name:
        return
    record = ctx.store.get(model_domain.KIND, name)
    if record is None:
        raise ValidationError(f'Could not find model "{ctx.arn(model_domain.KIND, name)}".')
    model = model_domain.model_from_record(record)
    if len(model.containers) != 1:
        raise ValidationError(
            f"Model {model.name} has {len(model.containers)} containers; an inference component "
            "deploys a single-container model."
        )
    if model.primary.multi_model is not None:
        raise ValidationError(
            f"Model {model.name} is a multi-model container (Mode MultiModel); an inference "
            "component deploys a model with its own model data."
        )


def check_base(
    ctx: ControlContext, spec: Mapping[str, Any], endpoint: str, variant: str
) -> ic.InferenceComponent | None:
    """The base component of an adapter, which must be a live base on the same variant."""
    name = spec.get("BaseInferenceComponentName")
    if not name:
        return None
    record = ctx.store.get(ic.KIND, name)
    if record is None:
        raise ValidationError(f'Could not find inference component "{ctx.arn(ic.KIND, name)}".')
    base = ic.component_from_record(record)
    if base.is_adapter:
        raise ValidationError(
            f"Inference component {base.name} is itself an adapter inference component; "
            "BaseInferenceComponentName must name a component that hosts a model."
        )
    if base.endpoint_name.lower() != endpoint.lower() or base.variant != variant:
        raise ValidationError(
            f"Base inference component {base.name} is on endpoint {base.endpoint_name} variant "
            f"{base.variant}; an adapter inference component must be on the same endpoint and "
            "variant as its base."
        )
    if base.status in (ic.ComponentStatus.FAILED, ic.ComponentStatus.DELETING):
        raise ValidationError(
            f"Base inference component {base.name} is in {base.status.value} state."
        )
    return base
