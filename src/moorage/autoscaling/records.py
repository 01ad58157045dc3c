"""Scalable targets, scaling policies and scheduled actions, and their store records.

Each is a record of the generic store (:mod:`moorage.store`), written before
the request that made it is answered:

- ``scalable-target``: ``sagemaker/{dimension}/{resource id}``, lower-cased
  (:attr:`ResourceRef.key`);
- ``scaling-policy``: the target's key, ``/``, the hex of the policy name's
  UTF-8 bytes;
- ``scheduled-action``: the target's key, ``/``, the hex of the action
  name's UTF-8 bytes.

Policy and scheduled-action names are case-sensitive, as on AWS, while the
store keys records by lower-cased name: hence the hex. A target's record
also keeps its cooldowns (:class:`~moorage.autoscaling.cooldown.Cooldowns`),
so a restart does not forget a recent scale-in. :class:`Registry` is the
typed face of the store for this package; tags live in the store's tag table
by the target's ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.autoscaling.cooldown import Cooldowns
from moorage.autoscaling.resources import NAMESPACE, ResourceRef, parse_target
from moorage.autoscaling.step_scaling import StepConfig, parse_step_config
from moorage.autoscaling.target_tracking import TrackingConfig, parse_tracking_config
from moorage.store.base import Record, Store

TARGET_KIND = "scalable-target"
POLICY_KIND = "scaling-policy"
SCHEDULED_KIND = "scheduled-action"

TARGET_TRACKING = "TargetTrackingScaling"
STEP_SCALING = "StepScaling"


def _ref_doc(ref: ResourceRef) -> dict[str, Any]:
    return {"resourceId": ref.resource_id, "dimension": ref.dimension.value}


def _ref_of(doc: Mapping[str, Any]) -> ResourceRef:
    return parse_target(NAMESPACE, str(doc["resourceId"]), str(doc["dimension"]))


def _ref_wire(ref: ResourceRef) -> dict[str, Any]:
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": ref.resource_id,
        "ScalableDimension": ref.dimension.value,
    }


def child_key(ref: ResourceRef, name: str) -> str:
    return f"{ref.key}/{name.encode('utf-8').hex()}"


@dataclass(frozen=True)
class Suspended:
    dynamic_in: bool = False
    dynamic_out: bool = False
    scheduled: bool = False

    def updated(self, given: Mapping[str, Any] | None) -> Suspended:
        """Members ``given`` names replace ours; the others stay."""
        if given is None:
            return self
        return Suspended(
            bool(given.get("DynamicScalingInSuspended", self.dynamic_in)),
            bool(given.get("DynamicScalingOutSuspended", self.dynamic_out)),
            bool(given.get("ScheduledScalingSuspended", self.scheduled)),
        )

    def to_api(self) -> dict[str, bool]:
        return {
            "DynamicScalingInSuspended": self.dynamic_in,
            "DynamicScalingOutSuspended": self.dynamic_out,
            "ScheduledScalingSuspended": self.scheduled,
        }


@dataclass(frozen=True)
class ScalableTarget:
    ref: ResourceRef
    minimum: int
    maximum: int
    role_arn: str
    arn: str
    created: float
    suspended: Suspended = field(default_factory=Suspended)
    cooldowns: Cooldowns = field(default_factory=Cooldowns)

    def with_changes(self, **changes: Any) -> ScalableTarget:
        return replace(self, **changes)

    def to_wire(self) -> dict[str, Any]:
        return {
            **_ref_wire(self.ref),
            "MinCapacity": self.minimum,
            "MaxCapacity": self.maximum,
            "RoleARN": self.role_arn,
            "CreationTime": self.created,
            "SuspendedState": self.suspended.to_api(),
            "ScalableTargetARN": self.arn,
        }

    def to_record(self, modified: float) -> Record:
        doc = {
            **_ref_doc(self.ref),
            "min": self.minimum,
            "max": self.maximum,
            "roleArn": self.role_arn,
            "suspended": self.suspended.to_api(),
            "cooldowns": self.cooldowns.to_doc(),
        }
        return Record(TARGET_KIND, self.ref.key, self.arn, self.created, modified, doc)

    @classmethod
    def from_record(cls, record: Record) -> ScalableTarget:
        doc = record.doc
        return cls(
            ref=_ref_of(doc),
            minimum=int(doc["min"]),
            maximum=int(doc["max"]),
            role_arn=str(doc["roleArn"]),
            arn=record.arn,
            created=record.created,
            suspended=Suspended().updated(doc.get("suspended")),
            cooldowns=Cooldowns.from_doc(doc.get("cooldowns")),
        )


@dataclass(frozen=True)
class AlarmRef:
    name: str
    arn: str

    def to_api(self) -> dict[str, str]:
        return {"AlarmName": self.name, "AlarmARN": self.arn}


@dataclass(frozen=True)
class ScalingPolicy:
    ref: ResourceRef
    name: str
    arn: str
    policy_type: str
    # The configuration as the request gave it (DescribeScalingPolicies echoes it).
    configuration: Mapping[str, Any]
    created: float
    # A target tracking policy's alarms: AlarmHigh, then AlarmLow when it has one.
    alarms: tuple[AlarmRef, ...] = ()

    @property
    def key(self) -> str:
        return child_key(self.ref, self.name)

    @property
    def is_tracking(self) -> bool:
        return self.policy_type == TARGET_TRACKING

    def tracking(self) -> TrackingConfig:
        return parse_tracking_config(self.configuration, self.ref)

    def step(self) -> StepConfig:
        return parse_step_config(self.configuration)

    def to_wire(self, step_alarms: tuple[AlarmRef, ...] = ()) -> dict[str, Any]:
        config_member = (
            "TargetTrackingScalingPolicyConfiguration"
            if self.is_tracking
            else "StepScalingPolicyConfiguration"
        )
        alarms = self.alarms if self.is_tracking else step_alarms
        return {
            "PolicyARN": self.arn,
            "PolicyName": self.name,
            **_ref_wire(self.ref),
            "PolicyType": self.policy_type,
            config_member: dict(self.configuration),
            "Alarms": [a.to_api() for a in alarms],
            "CreationTime": self.created,
        }

    def to_record(self, modified: float) -> Record:
        doc = {
            **_ref_doc(self.ref),
            "name": self.name,
            "type": self.policy_type,
            "configuration": dict(self.configuration),
            "alarms": [a.to_api() for a in self.alarms],
        }
        return Record(POLICY_KIND, self.key, self.arn, self.created, modified, doc)

    @classmethod
    def from_record(cls, record: Record) -> ScalingPolicy:
        doc = record.doc
        return cls(
            ref=_ref_of(doc),
            name=str(doc["name"]),
            arn=record.arn,
            policy_type=str(doc["type"]),
            configuration=dict(doc["configuration"]),
            created=record.created,
            alarms=tuple(AlarmRef(a["AlarmName"], a["AlarmARN"]) for a in doc.get("alarms", [])),
        )


@dataclass(frozen=True)
class ScheduledAction:
    ref: ResourceRef
    name: str
    arn: str
    schedule: str
    created: float
    timezone: str | None = None
    start: float | None = None
    end: float | None = None
    minimum: int | None = None
    maximum: int | None = None
    # When it runs next (None: never again), and when it last ran.
    next_run: float | None = None
    last_run: float | None = None

    @property
    def key(self) -> str:
        return child_key(self.ref, self.name)

    def with_changes(self, **changes: Any) -> ScheduledAction:
        return replace(self, **changes)

    def to_wire(self) -> dict[str, Any]:
        action = {"MinCapacity": self.minimum, "MaxCapacity": self.maximum}
        return {
            "ScheduledActionName": self.name,
            "ScheduledActionARN": self.arn,
            **_ref_wire(self.ref),
            "Schedule": self.schedule,
            "Timezone": self.timezone,
            "StartTime": self.start,
            "EndTime": self.end,
            "ScalableTargetAction": {k: v for k, v in action.items() if v is not None},
            "CreationTime": self.created,
        }

    def to_record(self, modified: float) -> Record:
        doc = {
            **_ref_doc(self.ref),
            "name": self.name,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "start": self.start,
            "end": self.end,
            "min": self.minimum,
            "max": self.maximum,
            "nextRun": self.next_run,
            "lastRun": self.last_run,
        }
        return Record(SCHEDULED_KIND, self.key, self.arn, self.created, modified, doc)

    @classmethod
    def from_record(cls, record: Record) -> ScheduledAction:
        doc = record.doc
        return cls(
            ref=_ref_of(doc),
            name=str(doc["name"]),
            arn=record.arn,
            schedule=str(doc["schedule"]),
            created=record.created,
            timezone=doc.get("timezone"),
            start=_float(doc.get("start")),
            end=_float(doc.get("end")),
            minimum=_int(doc.get("min")),
            maximum=_int(doc.get("max")),
            next_run=_float(doc.get("nextRun")),
            last_run=_float(doc.get("lastRun")),
        )


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


class Registry:
    """The store, as this package's typed records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- scalable targets

    def target(self, ref: ResourceRef) -> ScalableTarget | None:
        record = self.store.get(TARGET_KIND, ref.key)
        return ScalableTarget.from_record(record) if record else None

    def targets(self) -> list[ScalableTarget]:
        return [ScalableTarget.from_record(r) for r in self.store.list_records(TARGET_KIND)]

    def target_by_arn(self, arn: str) -> ScalableTarget | None:
        for record in self.store.list_records(TARGET_KIND):
            if record.arn == arn:
                return ScalableTarget.from_record(record)
        return None

    def put_target(self, target: ScalableTarget, now: float) -> None:
        self.store.put(target.to_record(now))

    # -- scaling policies

    def policy(self, ref: ResourceRef, name: str) -> ScalingPolicy | None:
        record = self.store.get(POLICY_KIND, child_key(ref, name))
        return ScalingPolicy.from_record(record) if record else None

    def policies(self, ref: ResourceRef | None = None) -> list[ScalingPolicy]:
        found = [ScalingPolicy.from_record(r) for r in self.store.list_records(POLICY_KIND)]
        return [p for p in found if ref is None or p.ref.key == ref.key]

    def policy_by_arn(self, arn: str) -> ScalingPolicy | None:
        for record in self.store.list_records(POLICY_KIND):
            if record.arn == arn:
                return ScalingPolicy.from_record(record)
        return None

    # -- scheduled actions

    def scheduled_action(self, ref: ResourceRef, name: str) -> ScheduledAction | None:
        record = self.store.get(SCHEDULED_KIND, child_key(ref, name))
        return ScheduledAction.from_record(record) if record else None

    def scheduled_actions(self, ref: ResourceRef | None = None) -> list[ScheduledAction]:
        found = [ScheduledAction.from_record(r) for r in self.store.list_records(SCHEDULED_KIND)]
        return [a for a in found if ref is None or a.ref.key == ref.key]
