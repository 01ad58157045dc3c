"""The levers Application Auto Scaling pulls: SageMaker's own capacity operations.

Autoscaling has no second way to start or stop model servers. Each scalable
dimension is a :class:`Lever` over the control plane's services, the very
handlers of the SageMaker API:

- ``sagemaker:variant:DesiredInstanceCount``: the variant's
  ``DesiredInstanceCount``, changed by ``UpdateEndpointWeightsAndCapacities``;
- ``sagemaker:variant:DesiredProvisionedConcurrency``: the serverless
  variant's provisioned concurrency, changed by
  ``UpdateEndpointWeightsAndCapacities`` with a ``ServerlessUpdateConfig``;
- ``sagemaker:inference-component:DesiredCopyCount``: the component's
  ``DesiredCopyCount``, changed by ``UpdateInferenceComponentRuntimeConfig``.

So a scale-in drains a copy before stopping it and a scale-out adds copies
before they take traffic, exactly as those operations do. A lever refuses
what those operations refuse, with their messages (an endpoint that is
``Updating``: "Cannot update in-progress endpoint"); the controller waits
for a resource that is being changed (:attr:`Capacity.busy`) rather than
asking. :meth:`Lever.progress` tells whether a change asked for has been
carried out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from moorage.autoscaling.activities import ActivityStatus
from moorage.autoscaling.resources import ResourceRef, ScalableDimension
from moorage.control.plane import ControlPlane
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.inference_component import ComponentStatus
from moorage.errors import ServiceError, ValidationError


@dataclass(frozen=True)
class Capacity:
    # The capacity the resource is set to (its desired count).
    current: int
    # The resource is being changed and takes no new change now.
    busy: bool = False


@dataclass(frozen=True)
class Progress:
    status: ActivityStatus
    reason: str = ""


class Lever(Protocol):
    def check(self, ref: ResourceRef) -> Capacity:
        """The resource's capacity; a ``ValidationException`` when it does not exist."""
        ...

    def read(self, ref: ResourceRef) -> Capacity | None:
        """The resource's capacity, or None when it is gone."""
        ...

    def set(self, ref: ResourceRef, capacity: int) -> None:
        """Ask for ``capacity``; raises the operation's ``ServiceError`` when refused."""
        ...

    def progress(self, ref: ResourceRef, capacity: int) -> Progress: ...


class LeverSet(Protocol):
    def of(self, ref: ResourceRef) -> Lever:
        """The lever of ``ref``'s dimension."""
        ...


class Levers:
    """The lever of each dimension, over the SageMaker control plane."""

    def __init__(self, plane: ControlPlane) -> None:
        self._levers: dict[ScalableDimension, Lever] = {
            ScalableDimension.VARIANT_INSTANCES: VariantInstances(plane),
            ScalableDimension.PROVISIONED_CONCURRENCY: ProvisionedConcurrency(plane),
            ScalableDimension.COMPONENT_COPIES: ComponentCopies(plane),
        }

    def of(self, ref: ResourceRef) -> Lever:
        return self._levers[ref.dimension]


def _read(lever: Lever, ref: ResourceRef) -> Capacity | None:
    try:
        return lever.check(ref)
    except ServiceError:
        return None


class VariantInstances:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def _endpoint(self, ref: ResourceRef) -> Endpoint:
        endpoint = self.plane.endpoints.get(ref.endpoint)
        if endpoint.variant(ref.variant) is None:
            raise ValidationError(
                f'The variant name "{ref.variant}" is not present in the endpoint "{endpoint.arn}".'
            )
        return endpoint

    def check(self, ref: ResourceRef) -> Capacity:
        endpoint = self._endpoint(ref)
        variant = endpoint.variant(ref.variant)
        assert variant is not None
        return Capacity(variant.desired_count, endpoint.status is not EndpointStatus.IN_SERVICE)

    def read(self, ref: ResourceRef) -> Capacity | None:
        return _read(self, ref)

    def set(self, ref: ResourceRef, capacity: int) -> None:
        self.plane.endpoint_updates.update_endpoint_weights_and_capacities(
            {
                "EndpointName": ref.endpoint,
                "DesiredWeightsAndCapacities": [
                    {"VariantName": ref.variant, "DesiredInstanceCount": capacity}
                ],
            }
        )

    def progress(self, ref: ResourceRef, capacity: int) -> Progress:
        try:
            endpoint = self._endpoint(ref)
        except ServiceError as exc:
            return Progress(ActivityStatus.FAILED, exc.message)
        if endpoint.status is EndpointStatus.FAILED:
            return Progress(ActivityStatus.FAILED, endpoint.failure_reason or "the endpoint failed")
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            return Progress(ActivityStatus.IN_PROGRESS)
        variant = endpoint.variant(ref.variant)
        assert variant is not None
        observed = endpoint.observed.get(ref.variant)
        current = observed.current_count if observed is not None else 0
        if variant.desired_count == capacity and current == capacity:
            return Progress(ActivityStatus.SUCCESSFUL)
        return Progress(
            ActivityStatus.FAILED,
            endpoint.failure_reason
            or f"the endpoint is InService with {current} instances of variant {ref.variant}",
        )


class ComponentCopies:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def check(self, ref: ResourceRef) -> Capacity:
        component = self.plane.inference_components.get(ref.component)
        return Capacity(
            component.desired_copies, component.status is not ComponentStatus.IN_SERVICE
        )

    def read(self, ref: ResourceRef) -> Capacity | None:
        return _read(self, ref)

    def set(self, ref: ResourceRef, capacity: int) -> None:
        self.plane.inference_components.update_inference_component_runtime_config(
            {
                "InferenceComponentName": ref.component,
                "DesiredRuntimeConfig": {"CopyCount": capacity},
            }
        )

    def progress(self, ref: ResourceRef, capacity: int) -> Progress:
        component = self.plane.inference_components.find(ref.component)
        if component is None:
            return Progress(ActivityStatus.FAILED, "the inference component no longer exists")
        if component.status is ComponentStatus.FAILED:
            return Progress(
                ActivityStatus.FAILED, component.failure_reason or "the inference component failed"
            )
        if component.status is not ComponentStatus.IN_SERVICE:
            return Progress(ActivityStatus.IN_PROGRESS)
        if component.desired_copies == capacity and component.current_copies == capacity:
            return Progress(ActivityStatus.SUCCESSFUL)
        return Progress(
            ActivityStatus.FAILED,
            component.failure_reason
            or f"the inference component is InService with {component.current_copies} copies",
        )


class ProvisionedConcurrency:
    """A serverless variant's provisioned concurrency, as DescribeEndpoint shows it."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def _variant(self, ref: ResourceRef) -> tuple[dict[str, Any], bool]:
        described = self.plane.endpoints.describe_endpoint({"EndpointName": ref.endpoint})
        for variant in described.get("ProductionVariants") or []:
            if variant["VariantName"] == ref.variant:
                busy = described["EndpointStatus"] != EndpointStatus.IN_SERVICE.value
                return variant, busy
        raise ValidationError(
            f'The variant name "{ref.variant}" is not present in the endpoint '
            f'"{described["EndpointArn"]}".'
        )

    def check(self, ref: ResourceRef) -> Capacity:
        variant, busy = self._variant(ref)
        config = variant.get("DesiredServerlessConfig") or variant.get("CurrentServerlessConfig")
        if not config or config.get("ProvisionedConcurrency") is None:
            raise ValidationError(
                f"Variant {ref.variant} of endpoint {ref.endpoint} has no provisioned "
                "concurrency to scale: only a serverless variant with "
                "ServerlessConfig.ProvisionedConcurrency can be registered for "
                f"{ref.dimension.value}."
            )
        return Capacity(int(config["ProvisionedConcurrency"]), busy)

    def read(self, ref: ResourceRef) -> Capacity | None:
        return _read(self, ref)

    def set(self, ref: ResourceRef, capacity: int) -> None:
        self.plane.endpoint_updates.update_endpoint_weights_and_capacities(
            {
                "EndpointName": ref.endpoint,
                "DesiredWeightsAndCapacities": [
                    {
                        "VariantName": ref.variant,
                        "ServerlessUpdateConfig": {"ProvisionedConcurrency": capacity},
                    }
                ],
            }
        )

    def progress(self, ref: ResourceRef, capacity: int) -> Progress:
        try:
            variant, busy = self._variant(ref)
        except ServiceError as exc:
            return Progress(ActivityStatus.FAILED, exc.message)
        if busy:
            return Progress(ActivityStatus.IN_PROGRESS)
        current = (variant.get("CurrentServerlessConfig") or {}).get("ProvisionedConcurrency")
        if current == capacity:
            return Progress(ActivityStatus.SUCCESSFUL)
        return Progress(
            ActivityStatus.FAILED, f"the variant's provisioned concurrency is {current}"
        )
