"""PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy.

A policy belongs to a registered scalable target (``ObjectNotFoundException``
otherwise). ``PolicyType`` ``TargetTrackingScaling`` or ``StepScaling``
(required when the policy is created; ``PredictiveScaling`` is for Amazon
ECS only, as on AWS). Putting an existing policy replaces its configuration
and keeps its ARN and creation time.

A target tracking policy's alarms (:mod:`moorage.autoscaling.target_tracking`)
are created through CloudWatch's own ``PutMetricAlarm`` handler, so they are
validated, persisted, listed by DescribeAlarms and evaluated like any
other; updating the policy updates them under the same names, deleting it
deletes them. A step scaling policy has no alarms of its own: it answers
the alarms that name its ARN in ``AlarmActions``, and DescribeScalingPolicies
lists those as its ``Alarms``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moorage.api.service_models import CLOUDWATCH, operation_model
from moorage.api.validate import validate
from moorage.autoscaling.arns import policy_arn
from moorage.autoscaling.errors import LimitExceeded, ObjectNotFound
from moorage.autoscaling.paging import page
from moorage.autoscaling.records import (
    POLICY_KIND,
    STEP_SCALING,
    TARGET_TRACKING,
    AlarmRef,
    Registry,
    ScalingPolicy,
)
from moorage.autoscaling.resources import (
    NAMESPACE,
    ResourceRef,
    check_filter,
    check_namespace,
    parse_dimension,
)
from moorage.autoscaling.step_scaling import parse_step_config
from moorage.autoscaling.target_tracking import (
    TrackingConfig,
    alarm_request,
    new_alarm_names,
    parse_tracking_config,
)
from moorage.autoscaling.targets import ref_of, target_not_found
from moorage.control.alarm_records import alarm_arn
from moorage.control.alarms import AlarmsService
from moorage.control.context import ControlContext
from moorage.errors import ValidationError
from moorage.monitoring import AlarmDefinition, AlarmEvaluator, MonitoringError

MAX_POLICIES_PER_TARGET = 50
DESCRIBE_MAX_RESULTS = 10

_CONFIG_MEMBERS = {
    TARGET_TRACKING: "TargetTrackingScalingPolicyConfiguration",
    STEP_SCALING: "StepScalingPolicyConfiguration",
}


def policy_not_found(ref: ResourceRef, name: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"No scaling policy found for service namespace: {NAMESPACE}, resource ID: "
        f"{ref.resource_id}, scalable dimension: {ref.dimension.value}, policy name: {name}"
    )


class PoliciesService:
    def __init__(
        self,
        ctx: ControlContext,
        registry: Registry,
        alarms: AlarmsService,
        evaluator: AlarmEvaluator,
    ) -> None:
        self.ctx = ctx
        self.registry = registry
        self.alarms = alarms
        self.evaluator = evaluator

    # -- PutScalingPolicy -----------------------------------------------------------

    def put_scaling_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = ref_of(params)
        if self.registry.target(ref) is None:
            raise target_not_found(ref)
        name = params["PolicyName"]
        existing = self.registry.policy(ref, name)
        policy_type = params.get("PolicyType") or (existing.policy_type if existing else None)
        if policy_type is None:
            raise ValidationError("PolicyType is required when creating a scaling policy.")
        if policy_type not in _CONFIG_MEMBERS:
            raise ValidationError(
                f"Unsupported policy type {policy_type} for service namespace {NAMESPACE}: "
                "PredictiveScaling is supported for Amazon ECS only; use TargetTrackingScaling "
                "or StepScaling."
            )
        member = _CONFIG_MEMBERS[policy_type]
        for other_type, other in _CONFIG_MEMBERS.items():
            if other_type != policy_type and params.get(other) is not None:
                raise ValidationError(f"{other} cannot be specified for a {policy_type} policy.")
        if params.get("PredictiveScalingPolicyConfiguration") is not None:
            raise ValidationError(
                f"PredictiveScalingPolicyConfiguration cannot be specified for a {policy_type} "
                "policy."
            )
        configuration = params.get(member)
        if configuration is None:
            raise ValidationError(f"{member} is required for a {policy_type} policy.")
        if existing is None and len(self.registry.policies(ref)) >= MAX_POLICIES_PER_TARGET:
            raise LimitExceeded(
                f"A scalable target can have at most {MAX_POLICIES_PER_TARGET} scaling policies."
            )
        now = self.ctx.now()
        arn = (
            existing.arn
            if existing is not None
            else policy_arn(self.ctx.partition, ref.resource_id, name)
        )
        policy = ScalingPolicy(
            ref=ref,
            name=name,
            arn=arn,
            policy_type=policy_type,
            configuration=configuration,
            created=existing.created if existing is not None else now,
        )
        stale = [a.name for a in existing.alarms] if existing is not None else []
        with self.ctx.store.transaction():
            if policy_type == TARGET_TRACKING:
                tracking = parse_tracking_config(configuration, ref)
                self._check_metric_unique(ref, name, tracking)
                alarms = self._put_alarms(policy, tracking, existing)
                policy = replace(policy, alarms=alarms)
                stale = [n for n in stale if n not in {a.name for a in alarms}]
            else:
                parse_step_config(configuration)
            self.ctx.store.put(policy.to_record(now))
            if stale:
                self.alarms.delete_alarms({"AlarmNames": stale})
        out: dict[str, Any] = {"PolicyARN": arn}
        if policy.is_tracking:
            out["Alarms"] = [a.to_api() for a in policy.alarms]
        return out

    def _check_metric_unique(self, ref: ResourceRef, name: str, tracking: TrackingConfig) -> None:
        for other in self.registry.policies(ref):
            if other.name == name or not other.is_tracking:
                continue
            if other.tracking().source == tracking.source:
                raise ValidationError(
                    f"The target tracking policy {other.name} of this scalable target already "
                    "tracks the same metric; each target tracking policy of a scalable target "
                    "must use a different metric."
                )

    def _put_alarms(
        self, policy: ScalingPolicy, tracking: TrackingConfig, existing: ScalingPolicy | None
    ) -> tuple[AlarmRef, ...]:
        fresh = new_alarm_names(policy.ref.resource_id, tracking.disable_scale_in)
        high, low = fresh.high, fresh.low
        if existing is not None and existing.is_tracking and existing.alarms:
            # The same alarms, updated: AlarmHigh first, then AlarmLow when there is one.
            high = existing.alarms[0].name
            kept_low = next((a.name for a in existing.alarms[1:]), None)
            low = None if tracking.disable_scale_in else (kept_low or fresh.low)
        requests = [alarm_request(high, policy.arn, tracking, high=True)]
        if low is not None:
            requests.append(alarm_request(low, policy.arn, tracking, high=False))
        alarm_shape = operation_model(CLOUDWATCH, "PutMetricAlarm").input_shape
        for request in requests:
            try:
                # CloudWatch's own checks: its model's shapes, then the alarm's rules.
                AlarmDefinition.from_request(validate(alarm_shape, request)).validate()
            except (MonitoringError, ValidationError) as exc:
                raise ValidationError(
                    f"The policy's metric cannot be watched by a CloudWatch alarm: {exc.message}"
                ) from None
        for request in requests:
            self.alarms.put_metric_alarm(request)
        return tuple(
            AlarmRef(r["AlarmName"], alarm_arn(self.ctx.partition, r["AlarmName"]))
            for r in requests
        )

    # -- DeleteScalingPolicy ---------------------------------------------------------

    def delete_scaling_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = ref_of(params)
        policy = self.registry.policy(ref, params["PolicyName"])
        if policy is None:
            raise policy_not_found(ref, params["PolicyName"])
        with self.ctx.store.transaction():
            self._remove(policy)
        return {}

    def _remove(self, policy: ScalingPolicy) -> None:
        self.ctx.store.delete(POLICY_KIND, policy.key)
        if policy.alarms:
            self.alarms.delete_alarms({"AlarmNames": [a.name for a in policy.alarms]})

    def remove_all(self, ref: ResourceRef) -> None:
        """Every policy of a target being deregistered (inside its transaction)."""
        for policy in self.registry.policies(ref):
            self._remove(policy)

    # -- DescribeScalingPolicies -----------------------------------------------------

    def describe_scaling_policies(self, params: dict[str, Any]) -> dict[str, Any]:
        check_namespace(params["ServiceNamespace"])
        resource_id = params.get("ResourceId")
        dimension = params.get("ScalableDimension")
        check_filter(resource_id, dimension)
        wanted_dimension = parse_dimension(dimension) if dimension is not None else None
        names = set(params["PolicyNames"]) if params.get("PolicyNames") else None
        policies = [
            p
            for p in self.registry.policies()
            if (resource_id is None or p.ref.resource_id.lower() == resource_id.lower())
            and (wanted_dimension is None or p.ref.dimension is wanted_dimension)
            and (names is None or p.name in names)
        ]
        result = page(
            "DescribeScalingPolicies",
            policies,
            lambda p: [p.created, p.key],
            params,
            most=DESCRIBE_MAX_RESULTS,
        )
        return {
            "ScalingPolicies": [p.to_wire(self.step_alarms(p)) for p in result.items],
            "NextToken": result.next_token,
        }

    def step_alarms(self, policy: ScalingPolicy) -> tuple[AlarmRef, ...]:
        """The alarms that name ``policy`` among their actions."""
        if policy.is_tracking:
            return ()
        found = []
        for record in self.evaluator.alarms():
            d = record.definition
            if policy.arn in (*d.alarm_actions, *d.ok_actions, *d.insufficient_data_actions):
                found.append(AlarmRef(d.name, alarm_arn(self.ctx.partition, d.name)))
        return tuple(found)
