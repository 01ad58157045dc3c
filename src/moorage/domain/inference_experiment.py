"""Inference experiments (shadow tests): desired state written by control/, advanced by deploy/.

An experiment runs a shadow variant beside an endpoint's production variant
for a scheduled time. It is stored as one record; besides what the API
describes it keeps what the driver (:mod:`moorage.deploy.experiment_driver`)
needs to carry it out across restarts: the endpoint config the endpoint was
on before the experiment (``prior_config`` and a copy of its spec), the
config generated for the experiment, and the endpoint change in progress
(:class:`EndpointChange`) — the update that starts it, changes its sampling
or instance counts, or stops it.

Which API operation is allowed in which status is :data:`OPERATIONS`; the
transitions the scheduler makes are :mod:`moorage.deploy.experiment_machine`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.errors import ConflictError
from moorage.store.base import Record

KIND = "inference-experiment"
TYPE_SHADOW_MODE = "ShadowMode"
INFRASTRUCTURE_TYPE = "RealTimeInference"


class ExperimentStatus(enum.StrEnum):
    CREATING = "Creating"
    CREATED = "Created"
    UPDATING = "Updating"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


TERMINAL = frozenset({ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED})


class VariantAction(enum.StrEnum):
    PROMOTE = "Promote"
    REMOVE = "Remove"
    RETAIN = "Retain"


class VariantStatus(enum.StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    DELETED = "Deleted"


# API operation → the statuses it is allowed in (ConflictException otherwise).
OPERATIONS: Mapping[str, frozenset[ExperimentStatus]] = {
    "update": frozenset({ExperimentStatus.CREATED, ExperimentStatus.RUNNING}),
    "start": frozenset({ExperimentStatus.CREATED}),
    "stop": frozenset({ExperimentStatus.RUNNING}),
    "delete": frozenset(
        {ExperimentStatus.CREATED, ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED}
    ),
}


def check_operation(operation: str, status: ExperimentStatus, arn: str) -> None:
    """Raise ``ConflictException`` unless ``operation`` is allowed in ``status``."""
    allowed = OPERATIONS[operation]
    if status not in allowed:
        names = " or ".join(s.value for s in ExperimentStatus if s in allowed)
        raise ConflictError(
            f'Cannot {operation} inference experiment "{arn}" because its status is '
            f"{status.value}; it must be {names}."
        )


@dataclass(frozen=True)
class ModelVariant:
    """One ``ModelVariantConfig``: a model on real-time instances."""

    model_name: str
    variant_name: str
    instance_type: str
    instance_count: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "ModelName": self.model_name,
            "VariantName": self.variant_name,
            "InfrastructureConfig": {
                "InfrastructureType": INFRASTRUCTURE_TYPE,
                "RealTimeInferenceConfig": {
                    "InstanceType": self.instance_type,
                    "InstanceCount": self.instance_count,
                },
            },
        }

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> ModelVariant:
        infra = doc["InfrastructureConfig"]["RealTimeInferenceConfig"]
        return cls(
            model_name=str(doc["ModelName"]),
            variant_name=str(doc["VariantName"]),
            instance_type=str(infra["InstanceType"]),
            instance_count=int(infra["InstanceCount"]),
        )


class ChangeKind(enum.StrEnum):
    START = "start"  # to the experiment's config (production + shadow)
    CAPACITY = "capacity"  # shadow weight (sampling) and instance counts in place
    STOP = "stop"  # to the config the stop actions leave


@dataclass(frozen=True)
class EndpointChange:
    """An endpoint change the experiment waits on.

    ``target_config`` is the endpoint config the endpoint ends on (start,
    stop); ``spec`` the CreateEndpointConfig body to create it from when it
    does not exist; ``desired`` the DesiredWeightsAndCapacities of a
    capacity change. ``issued`` is set, in the same store transaction as the
    endpoint's new deployment, once the change has been handed to the
    endpoint.
    """

    kind: ChangeKind
    target_config: str | None = None
    spec: Mapping[str, Any] | None = None
    desired: tuple[Mapping[str, Any], ...] = ()
    issued: bool = False

    def marked_issued(self) -> EndpointChange:
        return replace(self, issued=True)

    def to_doc(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "target_config": self.target_config,
            "spec": self.spec,
            "desired": [dict(d) for d in self.desired],
            "issued": self.issued,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> EndpointChange:
        return cls(
            kind=ChangeKind(doc["kind"]),
            target_config=doc.get("target_config"),
            spec=doc.get("spec"),
            desired=tuple(doc.get("desired", ())),
            issued=bool(doc.get("issued", False)),
        )


@dataclass(frozen=True)
class Experiment:
    name: str
    arn: str
    created: float
    modified: float
    status: ExperimentStatus
    endpoint_name: str
    role_arn: str
    model_variants: tuple[ModelVariant, ...]
    source_variant: str
    shadow_variant: str
    sampling_percentage: int
    start: float
    end: float
    description: str | None = None
    status_reason: str | None = None
    data_storage: Mapping[str, Any] | None = None
    kms_key: str | None = None
    completion: float | None = None
    # The status an Updating experiment returns to (Created or Running).
    resume: ExperimentStatus | None = None
    prior_config: str | None = None
    prior_spec: Mapping[str, Any] | None = None
    experiment_config: str | None = None
    change: EndpointChange | None = None
    # Where a stop leaves the experiment (Completed or Cancelled) and what it does.
    stop_state: ExperimentStatus | None = None
    actions: Mapping[str, VariantAction] = field(default_factory=dict)
    variant_status: Mapping[str, VariantStatus] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def variant(self, name: str) -> ModelVariant | None:
        for variant in self.model_variants:
            if variant.variant_name == name:
                return variant
        return None

    @property
    def source(self) -> ModelVariant:
        found = self.variant(self.source_variant)
        assert found is not None, "validated at creation"
        return found

    @property
    def shadow(self) -> ModelVariant:
        found = self.variant(self.shadow_variant)
        assert found is not None, "validated at creation"
        return found

    def with_changes(self, **changes: Any) -> Experiment:
        return replace(self, **changes)

    def to_doc(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "endpoint": self.endpoint_name,
            "role_arn": self.role_arn,
            "model_variants": [v.to_wire() for v in self.model_variants],
            "source_variant": self.source_variant,
            "shadow_variant": self.shadow_variant,
            "sampling_percentage": self.sampling_percentage,
            "start": self.start,
            "end": self.end,
            "description": self.description,
            "status_reason": self.status_reason,
            "data_storage": self.data_storage,
            "kms_key": self.kms_key,
            "completion": self.completion,
            "resume": self.resume.value if self.resume else None,
            "prior_config": self.prior_config,
            "prior_spec": self.prior_spec,
            "experiment_config": self.experiment_config,
            "change": self.change.to_doc() if self.change else None,
            "stop_state": self.stop_state.value if self.stop_state else None,
            "actions": {k: v.value for k, v in self.actions.items()},
            "variant_status": {k: v.value for k, v in self.variant_status.items()},
        }

    def to_record(self) -> Record:
        return Record(KIND, self.name, self.arn, self.created, self.modified, self.to_doc())


def experiment_from_record(record: Record) -> Experiment:
    doc = record.doc
    resume = doc.get("resume")
    stop_state = doc.get("stop_state")
    change = doc.get("change")
    return Experiment(
        name=record.name,
        arn=record.arn,
        created=record.created,
        modified=record.modified,
        status=ExperimentStatus(doc["status"]),
        endpoint_name=str(doc["endpoint"]),
        role_arn=str(doc["role_arn"]),
        model_variants=tuple(ModelVariant.from_wire(v) for v in doc["model_variants"]),
        source_variant=str(doc["source_variant"]),
        shadow_variant=str(doc["shadow_variant"]),
        sampling_percentage=int(doc["sampling_percentage"]),
        start=float(doc["start"]),
        end=float(doc["end"]),
        description=doc.get("description"),
        status_reason=doc.get("status_reason"),
        data_storage=doc.get("data_storage"),
        kms_key=doc.get("kms_key"),
        completion=doc.get("completion"),
        resume=ExperimentStatus(resume) if resume else None,
        prior_config=doc.get("prior_config"),
        prior_spec=doc.get("prior_spec"),
        experiment_config=doc.get("experiment_config"),
        change=EndpointChange.from_doc(change) if change else None,
        stop_state=ExperimentStatus(stop_state) if stop_state else None,
        actions={k: VariantAction(v) for k, v in doc.get("actions", {}).items()},
        variant_status={k: VariantStatus(v) for k, v in doc.get("variant_status", {}).items()},
    )
