"""What Application Auto Scaling can scale on moorage: SageMaker's three dimensions.

A scalable target is named by ``ServiceNamespace`` (``sagemaker``), a
``ResourceId`` and a ``ScalableDimension``:

- ``sagemaker:variant:DesiredInstanceCount`` and
  ``sagemaker:variant:DesiredProvisionedConcurrency``:
  ``endpoint/{EndpointName}/variant/{VariantName}``;
- ``sagemaker:inference-component:DesiredCopyCount``:
  ``inference-component/{InferenceComponentName}``.

:func:`parse_target` turns the three strings into a :class:`ResourceRef`, or
refuses them with a ``ValidationException`` that says what was expected.
Pure: whether the resource exists is :mod:`moorage.autoscaling.levers`'s
question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from moorage.errors import ValidationError

NAMESPACE = "sagemaker"

# SageMaker's names of endpoints, variants and inference components.
_NAME = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"
_VARIANT_ID = re.compile(rf"endpoint/({_NAME})/variant/({_NAME})")
_COMPONENT_ID = re.compile(rf"inference-component/({_NAME})")


class ScalableDimension(StrEnum):
    VARIANT_INSTANCES = "sagemaker:variant:DesiredInstanceCount"
    PROVISIONED_CONCURRENCY = "sagemaker:variant:DesiredProvisionedConcurrency"
    COMPONENT_COPIES = "sagemaker:inference-component:DesiredCopyCount"

    @property
    def of_variant(self) -> bool:
        return self is not ScalableDimension.COMPONENT_COPIES

    @property
    def what(self) -> str:
        """How activities name the capacity: ``desired instance count``."""
        return {
            ScalableDimension.VARIANT_INSTANCES: "desired instance count",
            ScalableDimension.PROVISIONED_CONCURRENCY: "desired provisioned concurrency",
            ScalableDimension.COMPONENT_COPIES: "desired copy count",
        }[self]

    @property
    def id_form(self) -> str:
        if self is ScalableDimension.COMPONENT_COPIES:
            return "inference-component/{InferenceComponentName}"
        return "endpoint/{EndpointName}/variant/{VariantName}"


@dataclass(frozen=True)
class ResourceRef:
    """One scalable target's resource: a variant of an endpoint, or an inference component."""

    resource_id: str
    dimension: ScalableDimension
    endpoint: str = ""
    variant: str = ""
    component: str = ""

    @property
    def key(self) -> str:
        """The target's identity; SageMaker matches resource names regardless of case."""
        return f"{NAMESPACE}/{self.dimension.value}/{self.resource_id}".lower()


def check_namespace(namespace: str) -> None:
    if namespace != NAMESPACE:
        raise ValidationError(
            f"Unsupported service namespace {namespace}: moorage scales SageMaker resources "
            f"only (ServiceNamespace {NAMESPACE})."
        )


def parse_dimension(dimension: str) -> ScalableDimension:
    try:
        return ScalableDimension(dimension)
    except ValueError:
        allowed = ", ".join(d.value for d in ScalableDimension)
        raise ValidationError(
            f"Unsupported scalable dimension {dimension} for service namespace {NAMESPACE}: "
            f"use one of {allowed}."
        ) from None


def parse_target(namespace: str, resource_id: str, dimension: str) -> ResourceRef:
    """The target named by a request's three members, or a ``ValidationException``."""
    check_namespace(namespace)
    parsed = parse_dimension(dimension)
    if parsed is ScalableDimension.COMPONENT_COPIES:
        match = _COMPONENT_ID.fullmatch(resource_id)
        if match is not None:
            return ResourceRef(resource_id, parsed, component=match.group(1))
    else:
        match = _VARIANT_ID.fullmatch(resource_id)
        if match is not None:
            return ResourceRef(resource_id, parsed, endpoint=match.group(1), variant=match.group(2))
    raise ValidationError(
        f"Unsupported resource ID {resource_id[:300]!r} for scalable dimension {parsed.value}: "
        f"the resource ID must have the form {parsed.id_form}."
    )


def check_filter(resource_id: str | None, dimension: str | None) -> None:
    """Describe requests: a scalable dimension needs a resource ID."""
    if dimension is not None and resource_id is None:
        raise ValidationError(
            "If you specify a scalable dimension, you must also specify a resource ID."
        )
