"""Endpoints: desired state written by control/, observed state by deploy/.

An endpoint serves the variants of its current endpoint config. Each variant
(production or shadow) runs one or more *groups*: the instances of that
variant built from one endpoint config (a blue/green update adds a green
group beside the blue one). A group says how many instances to keep running (``target``), how many
of them take traffic (``active``) and what fraction of the variant's
traffic it receives (``share``). The reconciler keeps processes matching the
groups and writes back what it observes (``observed``: instance counts,
images); rollouts (``deployment``) change the groups step by step.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.store.base import Record

KIND = "endpoint"


class EndpointStatus(enum.StrEnum):
    OUT_OF_SERVICE = "OutOfService"
    CREATING = "Creating"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"


@dataclass(frozen=True)
class Group:
    id: str
    config_name: str
    variant: str
    instance_type: str
    target: int
    active: int
    share: float

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "config": self.config_name,
            "variant": self.variant,
            "instance_type": self.instance_type,
            "target": self.target,
            "active": self.active,
            "share": self.share,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Group:
        return cls(
            id=str(doc["id"]),
            config_name=str(doc["config"]),
            variant=str(doc["variant"]),
            instance_type=str(doc["instance_type"]),
            target=int(doc["target"]),
            active=int(doc["active"]),
            share=float(doc["share"]),
        )


@dataclass(frozen=True)
class VariantState:
    """A variant as the endpoint currently serves it.

    A *shadow* variant (``ShadowProductionVariants``) never answers callers:
    it receives a sampled copy of the production variant's requests, the
    share given by its weight over the production weight
    (:func:`moorage.runtime.snapshot.sampling_fraction`).
    """

    name: str
    weight: float
    desired_weight: float
    desired_count: int
    shadow: bool = False
    # A serverless variant's ServerlessUpdateConfig members (MaxConcurrency,
    # ProvisionedConcurrency) replacing its config's (moorage.domain.serverless),
    # as sorted (member, value) pairs so the state stays hashable.
    serverless: tuple[tuple[str, int], ...] | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "weight": self.weight,
            "desired_weight": self.desired_weight,
            "desired_count": self.desired_count,
        }
        if self.shadow:
            doc["shadow"] = True
        if self.serverless:
            doc["serverless"] = dict(self.serverless)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> VariantState:
        return cls(
            name=str(doc["name"]),
            weight=float(doc["weight"]),
            desired_weight=float(doc["desired_weight"]),
            desired_count=int(doc["desired_count"]),
            shadow=bool(doc.get("shadow", False)),
            serverless=tuple(sorted((str(k), int(v)) for k, v in doc["serverless"].items()))
            if doc.get("serverless")
            else None,
        )


@dataclass(frozen=True)
class ObservedVariant:
    """What the reconciler last saw of a variant."""

    current_count: int = 0
    images: tuple[tuple[str, str, float], ...] = ()  # (specified, resolved, resolved at)
    status: tuple[tuple[str, str, float], ...] = ()  # (status, message, start time)

    def to_doc(self) -> dict[str, Any]:
        return {
            "current_count": self.current_count,
            "images": [list(i) for i in self.images],
            "status": [list(s) for s in self.status],
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ObservedVariant:
        return cls(
            current_count=int(doc.get("current_count", 0)),
            images=tuple((str(a), str(b), float(c)) for a, b, c in doc.get("images", [])),
            status=tuple((str(a), str(b), float(c)) for a, b, c in doc.get("status", [])),
        )


@dataclass(frozen=True)
class Endpoint:
    name: str
    arn: str
    created: float
    modified: float
    config_name: str
    status: EndpointStatus
    failure_reason: str | None = None
    variants: tuple[VariantState, ...] = ()
    groups: tuple[Group, ...] = ()
    next_group: int = 1
    observed: Mapping[str, ObservedVariant] = field(default_factory=dict)
    # The rollout in progress (deploy/ owns its shape), persisted before acting.
    deployment: Mapping[str, Any] | None = None
    deployment_config: Mapping[str, Any] | None = None
    last_deployment_config: Mapping[str, Any] | None = None

    def variant(self, name: str) -> VariantState | None:
        for variant in self.variants:
            if variant.name == name:
                return variant
        return None

    @property
    def production_variants(self) -> tuple[VariantState, ...]:
        return tuple(v for v in self.variants if not v.shadow)

    @property
    def shadow_variants(self) -> tuple[VariantState, ...]:
        return tuple(v for v in self.variants if v.shadow)

    def groups_of(self, variant: str) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.variant == variant)

    def with_changes(self, **changes: Any) -> Endpoint:
        return replace(self, **changes)

    def to_doc(self) -> dict[str, Any]:
        return {
            "config": self.config_name,
            "status": self.status.value,
            "failure_reason": self.failure_reason,
            "variants": [v.to_doc() for v in self.variants],
            "groups": [g.to_doc() for g in self.groups],
            "next_group": self.next_group,
            "observed": {k: v.to_doc() for k, v in self.observed.items()},
            "deployment": self.deployment,
            "deployment_config": self.deployment_config,
            "last_deployment_config": self.last_deployment_config,
        }

    def to_record(self) -> Record:
        return Record(KIND, self.name, self.arn, self.created, self.modified, self.to_doc())


def endpoint_from_record(record: Record) -> Endpoint:
    doc = record.doc
    return Endpoint(
        name=record.name,
        arn=record.arn,
        created=record.created,
        modified=record.modified,
        config_name=str(doc["config"]),
        status=EndpointStatus(doc["status"]),
        failure_reason=doc.get("failure_reason"),
        variants=tuple(VariantState.from_doc(v) for v in doc.get("variants", [])),
        groups=tuple(Group.from_doc(g) for g in doc.get("groups", [])),
        next_group=int(doc.get("next_group", 1)),
        observed={k: ObservedVariant.from_doc(v) for k, v in doc.get("observed", {}).items()},
        deployment=doc.get("deployment"),
        deployment_config=doc.get("deployment_config"),
        last_deployment_config=doc.get("last_deployment_config"),
    )
