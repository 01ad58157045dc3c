"""Inference components: a model deployed as copies onto an endpoint's instances.

``control/`` writes the desired state (the ``Specification`` as given, the
desired copy count, the status of the operation under way) and, in the same
transaction, where the copies go (:mod:`moorage.domain.component_placement`).
``deploy/`` (the component runner) starts and stops the copies and writes
back what it observes: the status reached, the current copy count, the image
that ran.

A change of ``Specification`` makes a new *generation*: copies of the new
generation are started beside the old ones, and the old ones are retired once
every new one is ready (or, with a ``DeploymentConfig``, batch by batch:
:mod:`moorage.deploy.component_rollout`). ``previous`` remembers the state
before the operation under way, so a copy that cannot start rolls the
component back to it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from moorage.placement import DEFAULT_STRATEGY, Requirements, Strategy
from moorage.store.base import Record

KIND = "inference-component"


class ComponentStatus(enum.StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    FAILED = "Failed"
    DELETING = "Deleting"


@dataclass(frozen=True)
class Previous:
    """The component before the operation under way: what a rollback restores."""

    spec: Mapping[str, Any]
    desired_copies: int
    generation: int
    copy_ids: tuple[str, ...]

    def to_doc(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "desired_copies": self.desired_copies,
            "generation": self.generation,
            "copy_ids": list(self.copy_ids),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Previous:
        return cls(
            spec=doc["spec"],
            desired_copies=int(doc["desired_copies"]),
            generation=int(doc["generation"]),
            copy_ids=tuple(str(c) for c in doc.get("copy_ids", [])),
        )


@dataclass(frozen=True)
class InferenceComponent:
    name: str
    arn: str
    created: float
    modified: float
    endpoint_name: str
    endpoint_arn: str
    variant: str
    status: ComponentStatus
    spec: Mapping[str, Any]
    desired_copies: int
    generation: int = 1
    failure_reason: str | None = None
    previous: Previous | None = None
    # Observed by the component runner.
    current_copies: int = 0
    # (specified image, resolved image, resolution time) of the copies that ran.
    deployed_image: tuple[str, str, float] | None = None
    last_deployment_config: Mapping[str, Any] | None = None
    # The update under way when it came with a DeploymentConfig: the config and,
    # for a new specification, the rolling update's persisted state
    # (moorage.deploy.component_rollout.ComponentDeployment).
    deployment: Mapping[str, Any] | None = None

    @property
    def base(self) -> str | None:
        """The base component's name when this is an adapter component."""
        value = self.spec.get("BaseInferenceComponentName")
        return str(value) if value else None

    @property
    def is_adapter(self) -> bool:
        return self.base is not None

    @property
    def requirements(self) -> Requirements:
        return requirements_of(self.spec)

    @property
    def strategy(self) -> Strategy:
        return strategy_of(self.spec)

    @property
    def adapter_name(self) -> str:
        """The name this adapter is loaded under in its base's model servers.

        A new generation gets a new name, so it can be loaded beside the old
        one and traffic moves over only once it is loaded everywhere.
        """
        return adapter_name(self.name, self.generation)

    def with_changes(self, **changes: Any) -> InferenceComponent:
        return replace(self, **changes)

    def to_doc(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint_name,
            "endpoint_arn": self.endpoint_arn,
            "variant": self.variant,
            "status": self.status.value,
            "spec": self.spec,
            "desired_copies": self.desired_copies,
            "generation": self.generation,
            "failure_reason": self.failure_reason,
            "previous": self.previous.to_doc() if self.previous else None,
            "current_copies": self.current_copies,
            "deployed_image": list(self.deployed_image) if self.deployed_image else None,
            "last_deployment_config": self.last_deployment_config,
            "deployment": self.deployment,
        }

    def to_record(self) -> Record:
        return Record(KIND, self.name, self.arn, self.created, self.modified, self.to_doc())


def adapter_name(component: str, generation: int) -> str:
    return component if generation == 1 else f"{component}.v{generation}"


def requirements_of(spec: Mapping[str, Any]) -> Requirements:
    """What one copy reserves (none for an adapter, which runs in its base's copies)."""
    compute = spec.get("ComputeResourceRequirements")
    return Requirements.from_api(compute) if compute else Requirements()


def strategy_of(spec: Mapping[str, Any]) -> Strategy:
    scheduling = spec.get("SchedulingConfig") or {}
    value = scheduling.get("PlacementStrategy")
    return Strategy(value) if value else DEFAULT_STRATEGY


def component_from_record(record: Record) -> InferenceComponent:
    doc = record.doc
    previous = doc.get("previous")
    image = doc.get("deployed_image")
    return InferenceComponent(
        name=record.name,
        arn=record.arn,
        created=record.created,
        modified=record.modified,
        endpoint_name=str(doc["endpoint"]),
        endpoint_arn=str(doc["endpoint_arn"]),
        variant=str(doc["variant"]),
        status=ComponentStatus(doc["status"]),
        spec=doc["spec"],
        desired_copies=int(doc["desired_copies"]),
        generation=int(doc.get("generation", 1)),
        failure_reason=doc.get("failure_reason"),
        previous=Previous.from_doc(previous) if previous else None,
        current_copies=int(doc.get("current_copies", 0)),
        deployed_image=(str(image[0]), str(image[1]), float(image[2])) if image else None,
        last_deployment_config=doc.get("last_deployment_config"),
        deployment=doc.get("deployment"),
    )
