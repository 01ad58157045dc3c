"""Target tracking: ``TargetTrackingScalingPolicyConfiguration``, its alarms, its arithmetic.

A target tracking policy is carried out, as on AWS, by two CloudWatch alarms
that Application Auto Scaling creates in the account's CloudWatch (here:
moorage's) and names ``TargetTracking-{ResourceId}-AlarmHigh-{uuid}`` and
``...-AlarmLow-{uuid}``; each names the policy's ARN in ``AlarmActions``:

- AlarmHigh: metric > TargetValue for 3 out of 3 periods of 60 s (10 s for
  the high-resolution metrics);
- AlarmLow: metric < 90 % of TargetValue for 15 out of 15 periods of 60 s.

(``DisableScaleIn``: no AlarmLow.) When AlarmHigh is in ALARM the policy
scales out to ``ceil(capacity x metric / TargetValue)`` with the newest
datapoint, at once and proportionally; when AlarmLow is, it scales in to
``ceil(capacity x metric / TargetValue)`` with the *highest* of the 15
datapoints, which never undershoots (the metric after scaling stays at or
below the target, so AlarmHigh does not fire back: no flapping). See
:func:`tracked_capacity`.

Predefined metrics (all ``AWS/SageMaker``; the variant's with dimensions
``EndpointName`` and ``VariantName``, the component's with
``InferenceComponentName``) are in :data:`PREDEFINED`: the metric, its
statistic, and whether it is high-resolution.

A ``CustomizedMetricSpecification`` names any metric (with its statistic and
unit) or a list of metric data queries with metric math; its alarms use
periods of 60 s. Pure, apart from the uuids of alarm names.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moorage.autoscaling.resources import ResourceRef, ScalableDimension
from moorage.errors import ValidationError

DEFAULT_COOLDOWN = 300
MAX_COOLDOWN = 365 * 86_400
SCALE_IN_RATIO = 0.9
HIGH_DATAPOINTS = 3
LOW_DATAPOINTS = 15
PERIOD = 60
HIGH_RESOLUTION_PERIOD = 10
# More than any scalable target's MaxCapacity can usefully be (it is clamped anyway).
MAX_CAPACITY = 2**31 - 1
# A capacity x metric / target this close above an integer is that integer
# (floating-point noise must not add an instance).
_EPSILON = 1e-9


@dataclass(frozen=True)
class Predefined:
    dimension: ScalableDimension
    metric_name: str
    statistic: str
    high_resolution: bool


PREDEFINED: dict[str, Predefined] = {
    "SageMakerVariantInvocationsPerInstance": Predefined(
        ScalableDimension.VARIANT_INSTANCES, "InvocationsPerInstance", "Sum", False
    ),
    "SageMakerVariantConcurrentRequestsPerModelHighResolution": Predefined(
        ScalableDimension.VARIANT_INSTANCES, "ConcurrentRequestsPerModel", "Average", True
    ),
    "SageMakerVariantProvisionedConcurrencyUtilization": Predefined(
        ScalableDimension.PROVISIONED_CONCURRENCY,
        "ServerlessProvisionedConcurrencyUtilization",
        "Average",
        False,
    ),
    "SageMakerInferenceComponentInvocationsPerCopy": Predefined(
        ScalableDimension.COMPONENT_COPIES, "InvocationsPerCopy", "Sum", False
    ),
    "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution": Predefined(
        ScalableDimension.COMPONENT_COPIES, "ConcurrentRequestsPerCopy", "Average", True
    ),
}


@dataclass(frozen=True)
class MetricSource:
    """What the policy's alarms watch, as ``PutMetricAlarm`` members."""

    alarm_members: Mapping[str, Any]
    high_resolution: bool = False


@dataclass(frozen=True)
class TrackingConfig:
    target: float
    source: MetricSource
    scale_out_cooldown: int = DEFAULT_COOLDOWN
    scale_in_cooldown: int = DEFAULT_COOLDOWN
    disable_scale_in: bool = False


def tracked_capacity(capacity: int, metric: float, target: float) -> int:
    """``ceil(capacity x metric / target)``: the capacity that brings the metric to the target."""
    wanted = capacity * metric / target
    if not math.isfinite(wanted) or wanted > MAX_CAPACITY:
        # A metric astronomically above the target: as much as the target's maximum allows.
        return MAX_CAPACITY
    return max(0, math.ceil(wanted - _EPSILON))


def parse_tracking_config(config: Mapping[str, Any], ref: ResourceRef) -> TrackingConfig:
    """A validated ``TargetTrackingScalingPolicyConfiguration``, or a ``ValidationException``."""
    target = float(config["TargetValue"])
    if not math.isfinite(target) or target <= 0:
        raise ValidationError(
            f"TargetValue must be a number greater than 0 (not {config['TargetValue']}): the "
            "policy scales capacity in proportion to the metric over the target."
        )
    predefined: Mapping[str, Any] | None = config.get("PredefinedMetricSpecification")
    customized: Mapping[str, Any] = config.get("CustomizedMetricSpecification") or {}
    if (predefined is None) == (not customized):
        raise ValidationError(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification "
            "must be specified."
        )
    source = _predefined(predefined, ref) if predefined is not None else _customized(customized)
    return TrackingConfig(
        target,
        source,
        _cooldown(config, "ScaleOutCooldown"),
        _cooldown(config, "ScaleInCooldown"),
        bool(config.get("DisableScaleIn", False)),
    )


def _cooldown(config: Mapping[str, Any], member: str) -> int:
    value = int(config.get(member, DEFAULT_COOLDOWN))
    if not 0 <= value <= MAX_COOLDOWN:
        raise ValidationError(f"{member} must be between 0 and {MAX_COOLDOWN} seconds.")
    return value


def _predefined(spec: Mapping[str, Any], ref: ResourceRef) -> MetricSource:
    kind = str(spec["PredefinedMetricType"])
    found = PREDEFINED.get(kind)
    if found is None or found.dimension is not ref.dimension:
        usable = sorted(k for k, v in PREDEFINED.items() if v.dimension is ref.dimension)
        raise ValidationError(
            f"The predefined metric type {kind} is not supported for scalable dimension "
            f"{ref.dimension.value}: use {' or '.join(usable)}."
        )
    if spec.get("ResourceLabel") is not None:
        raise ValidationError(
            f"ResourceLabel is not used with the predefined metric type {kind}; leave it out."
        )
    if ref.dimension is ScalableDimension.COMPONENT_COPIES:
        dimensions = [{"Name": "InferenceComponentName", "Value": ref.component}]
    else:
        dimensions = [
            {"Name": "EndpointName", "Value": ref.endpoint},
            {"Name": "VariantName", "Value": ref.variant},
        ]
    members = {
        "Namespace": "AWS/SageMaker",
        "MetricName": found.metric_name,
        "Dimensions": dimensions,
        "Statistic": found.statistic,
    }
    return MetricSource(members, found.high_resolution)


def _customized(spec: Mapping[str, Any]) -> MetricSource:
    queries = spec.get("Metrics")
    single = [
        m for m in ("MetricName", "Namespace", "Dimensions", "Statistic", "Unit") if m in spec
    ]
    if queries is not None:
        if single:
            raise ValidationError(
                f"CustomizedMetricSpecification.Metrics cannot be combined with "
                f"{', '.join(single)}: name the metrics inside the Metrics list."
            )
        return MetricSource({"Metrics": [_alarm_query(q) for q in queries]})
    missing = [m for m in ("MetricName", "Namespace", "Statistic") if m not in spec]
    if missing:
        raise ValidationError(
            f"CustomizedMetricSpecification needs {', '.join(missing)} (or a Metrics list)."
        )
    members: dict[str, Any] = {
        "Namespace": spec["Namespace"],
        "MetricName": spec["MetricName"],
        "Dimensions": [
            {"Name": d["Name"], "Value": d["Value"]} for d in spec.get("Dimensions", [])
        ],
        "Statistic": spec["Statistic"],
    }
    if spec.get("Unit") is not None:
        members["Unit"] = spec["Unit"]
    return MetricSource(members)


def _alarm_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """A ``TargetTrackingMetricDataQuery`` as a ``PutMetricAlarm`` metric data query."""
    out: dict[str, Any] = {"Id": query["Id"]}
    if query.get("Expression") is not None:
        out["Expression"] = query["Expression"]
    if query.get("Label") is not None:
        out["Label"] = query["Label"]
    stat = query.get("MetricStat")
    if stat is not None:
        metric = stat.get("Metric", {})
        if "MetricName" not in metric or "Namespace" not in metric:
            raise ValidationError(
                f"The metric of query {query['Id']} needs a MetricName and a Namespace."
            )
        alarm_stat: dict[str, Any] = {
            "Metric": {
                "Namespace": metric["Namespace"],
                "MetricName": metric["MetricName"],
                "Dimensions": [
                    {"Name": d["Name"], "Value": d["Value"]} for d in metric.get("Dimensions", [])
                ],
            },
            "Period": PERIOD,
            "Stat": stat["Stat"],
        }
        if stat.get("Unit") is not None:
            alarm_stat["Unit"] = stat["Unit"]
        out["MetricStat"] = alarm_stat
    out["ReturnData"] = bool(query.get("ReturnData", True))
    return out


# -- the policy's alarms --------------------------------------------------------------


@dataclass(frozen=True)
class AlarmNames:
    high: str
    low: str | None


def new_alarm_names(resource_id: str, disable_scale_in: bool) -> AlarmNames:
    prefix = f"TargetTracking-{resource_id}"
    low = None if disable_scale_in else f"{prefix}-AlarmLow-{uuid.uuid4()}"
    return AlarmNames(f"{prefix}-AlarmHigh-{uuid.uuid4()}", low)


def alarm_request(
    name: str, policy_arn: str, config: TrackingConfig, *, high: bool
) -> dict[str, Any]:
    """The ``PutMetricAlarm`` request of the policy's AlarmHigh (or AlarmLow)."""
    source = config.source
    if high:
        period = HIGH_RESOLUTION_PERIOD if source.high_resolution else PERIOD
        periods, threshold, operator = HIGH_DATAPOINTS, config.target, "GreaterThanThreshold"
    else:
        period = PERIOD
        periods = LOW_DATAPOINTS
        threshold, operator = config.target * SCALE_IN_RATIO, "LessThanThreshold"
    members = dict(source.alarm_members)
    if "Metrics" in members:
        members["Metrics"] = [_with_period(q, period) for q in members["Metrics"]]
    else:
        members["Period"] = period
    return {
        "AlarmName": name,
        "AlarmDescription": (
            f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}."
        ),
        "ActionsEnabled": True,
        "AlarmActions": [policy_arn],
        **members,
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods,
        "Threshold": threshold,
        "ComparisonOperator": operator,
        "TreatMissingData": "missing",
    }


def _with_period(query: Mapping[str, Any], period: int) -> dict[str, Any]:
    out = dict(query)
    if "MetricStat" in out:
        out["MetricStat"] = {**out["MetricStat"], "Period": period}
    return out
