"""The pure policy math: target tracking, step adjustments, cooldowns, combining proposals."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.autoscaling.cooldown import Cooldowns
from moorage.autoscaling.decision import NotScaledCode, Proposal, decide
from moorage.autoscaling.proposals import step_proposal, tracking_proposal
from moorage.autoscaling.resources import ScalableDimension, parse_target
from moorage.autoscaling.step_scaling import parse_step_config
from moorage.autoscaling.target_tracking import (
    alarm_request,
    new_alarm_names,
    parse_tracking_config,
    tracked_capacity,
)
from moorage.errors import ValidationError

VARIANT = parse_target(
    "sagemaker", "endpoint/shop/variant/AllTraffic", "sagemaker:variant:DesiredInstanceCount"
)
COMPONENT = parse_target(
    "sagemaker", "inference-component/llm", "sagemaker:inference-component:DesiredCopyCount"
)
NOW = 1_800_000_000.0


def tracking(target: float = 70.0, **extra: Any) -> dict[str, Any]:
    return {
        "TargetValue": target,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        **extra,
    }


# -- target tracking ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "metric", "target", "wanted"),
    [
        (2, 140.0, 70.0, 4),  # twice the target: twice the capacity
        (2, 71.0, 70.0, 3),  # just above: one more (rounded up)
        (3, 70.0, 70.0, 3),  # on target: no change, despite floating-point noise
        (10, 0.7, 7.0, 1),  # 10 x 0.7 / 7 is 1.0000000000000002
        (4, 30.0, 70.0, 2),  # scale in to what keeps the metric at or below the target
        (4, 0.0, 70.0, 0),
        (4, 1e300, 1e-300, 2**31 - 1),  # overflows a float: as much as allowed
    ],
)
def test_tracked_capacity_is_proportional_and_rounds_up(
    capacity: int, metric: float, target: float, wanted: int
) -> None:
    assert tracked_capacity(capacity, metric, target) == wanted
    if 0 < wanted < 2**31 - 1:
        assert capacity * metric / wanted <= target + 1e-9


def test_predefined_metrics_and_their_alarms() -> None:
    config = parse_tracking_config(tracking(), VARIANT)
    names = new_alarm_names(VARIANT.resource_id, disable_scale_in=False)
    assert names.high.startswith("TargetTracking-endpoint/shop/variant/AllTraffic-AlarmHigh-")
    assert names.low is not None and "-AlarmLow-" in names.low
    arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x"
    high = alarm_request(names.high, arn, config, high=True)
    low = alarm_request(names.low, arn, config, high=False)
    assert high["MetricName"] == "InvocationsPerInstance" and high["Statistic"] == "Sum"
    assert high["Dimensions"] == [
        {"Name": "EndpointName", "Value": "shop"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert (high["Period"], high["EvaluationPeriods"], high["DatapointsToAlarm"]) == (60, 3, 3)
    assert (high["Threshold"], high["ComparisonOperator"]) == (70.0, "GreaterThanThreshold")
    assert (low["Period"], low["EvaluationPeriods"]) == (60, 15)
    assert (low["Threshold"], low["ComparisonOperator"]) == (63.0, "LessThanThreshold")
    assert high["AlarmActions"] == [arn] and "DO NOT EDIT OR DELETE" in high["AlarmDescription"]
    assert new_alarm_names(VARIANT.resource_id, disable_scale_in=True).low is None


def test_high_resolution_metrics_alarm_on_ten_second_periods() -> None:
    spec = {
        "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    }
    config = parse_tracking_config(
        {"TargetValue": 4.0, "PredefinedMetricSpecification": spec}, COMPONENT
    )
    high = alarm_request("h", "arn", config, high=True)
    assert high["MetricName"] == "ConcurrentRequestsPerCopy" and high["Period"] == 10
    assert high["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "llm"}]
    assert alarm_request("l", "arn", config, high=False)["Period"] == 60


def test_customized_metrics_single_and_metric_math() -> None:
    single = parse_tracking_config(
        {
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {
                "MetricName": "Queue",
                "Namespace": "App",
                "Dimensions": [{"Name": "Q", "Value": "a"}],
                "Statistic": "Maximum",
                "Unit": "Count",
            },
        },
        VARIANT,
    )
    request = alarm_request("h", "arn", single, high=True)
    assert (request["Namespace"], request["Statistic"], request["Unit"]) == (
        "App",
        "Maximum",
        "Count",
    )
    math = parse_tracking_config(
        {
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {
                "Metrics": [
                    {
                        "Id": "q",
                        "MetricStat": {
                            "Metric": {"Namespace": "App", "MetricName": "Queue"},
                            "Stat": "Sum",
                        },
                        "ReturnData": False,
                    },
                    {"Id": "per", "Expression": "q / 2", "ReturnData": True},
                ]
            },
        },
        VARIANT,
    )
    request = alarm_request("h", "arn", math, high=True)
    assert "Period" not in request
    assert request["Metrics"][0]["MetricStat"]["Period"] == 60
    assert request["Metrics"][1] == {"Id": "per", "Expression": "q / 2", "ReturnData": True}


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (tracking(0.0), "greater than 0"),
        (tracking(ScaleInCooldown=-1), "ScaleInCooldown"),
        ({"TargetValue": 1.0}, "Exactly one of"),
        (
            {
                "TargetValue": 1.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"
                },
            },
            "not supported for scalable dimension sagemaker:variant:DesiredInstanceCount",
        ),
        (
            {
                "TargetValue": 1.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ALBRequestCountPerTarget"
                },
            },
            "use SageMakerVariantConcurrentRequestsPerModelHighResolution or "
            "SageMakerVariantInvocationsPerInstance",
        ),
        (
            {"TargetValue": 1.0, "CustomizedMetricSpecification": {"MetricName": "M"}},
            "needs Namespace, Statistic",
        ),
        (
            {
                "TargetValue": 1.0,
                "CustomizedMetricSpecification": {"MetricName": "M", "Metrics": []},
            },
            "cannot be combined with MetricName",
        ),
    ],
)
def test_invalid_tracking_configurations(config: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_tracking_config(config, VARIANT)
    assert words in caught.value.message


def test_tracking_proposals_scale_out_fast_and_in_from_the_highest_datapoint() -> None:
    config = parse_tracking_config(tracking(ScaleInCooldown=600), VARIANT)
    none = Cooldowns()
    out = tracking_proposal(
        "p", "high", config, high=True, values=[100, 150, 210], current=2, cooldowns=none, now=NOW
    )
    assert out == Proposal("p", "high", 6, 300)  # ceil(2 x 210 / 70), from the newest
    low = tracking_proposal(
        "p", "low", config, high=False, values=[10, 30, 20], current=6, cooldowns=none, now=NOW
    )
    assert low == Proposal("p", "low", 3, 600)  # ceil(6 x 30 / 70), from the highest
    assert (
        tracking_proposal(
            "p", "high", config, high=True, values=[], current=2, cooldowns=none, now=NOW
        )
        is None
    )
    # No scale-out from zero capacity; no scale-in while the scale-in cooldown lasts.
    assert (
        tracking_proposal(
            "p", "high", config, high=True, values=[500], current=0, cooldowns=none, now=NOW
        )
        is None
    )
    recent_in = Cooldowns(in_at=NOW - 599)
    assert (
        tracking_proposal(
            "p", "low", config, high=False, values=[1], current=6, cooldowns=recent_in, now=NOW
        )
        is None
    )
    disabled = parse_tracking_config(tracking(DisableScaleIn=True), VARIANT)
    assert (
        tracking_proposal(
            "p", "low", disabled, high=False, values=[1], current=6, cooldowns=none, now=NOW
        )
        is None
    )


def test_scale_out_cooldown_counts_the_capacity_already_added() -> None:
    config = parse_tracking_config(tracking(ScaleOutCooldown=300), VARIANT)
    # 2 → 4 a minute ago; the metric still reads 140 (measured over the old capacity).
    cooling = Cooldowns().scaled_out(NOW - 60, 2, 300)
    same = tracking_proposal(
        "p", "high", config, high=True, values=[140], current=4, cooldowns=cooling, now=NOW
    )
    assert same == Proposal("p", "high", 4, 300)  # ceil(2 x 140 / 70) = 4: nothing more
    larger = tracking_proposal(
        "p", "high", config, high=True, values=[280], current=4, cooldowns=cooling, now=NOW
    )
    assert larger == Proposal("p", "high", 8, 300)  # a larger scale-out goes ahead
    # It restarts the cooldown from the same base: a lagging metric does not compound.
    assert cooling.scaled_out(NOW, 4, 300).out_base == 2
    after = tracking_proposal(
        "p", "high", config, high=True, values=[140], current=4, cooldowns=cooling, now=NOW + 300
    )
    assert after == Proposal("p", "high", 8, 300)


def test_cooldown_state_round_trips_and_scale_out_ends_scale_in_cooldown() -> None:
    state = Cooldowns().scaled_in(NOW)
    assert state.in_blocked(NOW + 10, 300) and not state.in_blocked(NOW + 300, 300)
    state = state.scaled_out(NOW + 20, 3, 300)
    assert not state.in_blocked(NOW + 21, 300)
    assert Cooldowns.from_doc(state.to_doc()) == state
    assert Cooldowns.from_doc(None) == Cooldowns()


# -- step scaling --------------------------------------------------------------------------


def step_config(adjustment_type: str = "ChangeInCapacity", **extra: Any) -> dict[str, Any]:
    return {
        "AdjustmentType": adjustment_type,
        "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 0},
            {
                "MetricIntervalLowerBound": 10,
                "MetricIntervalUpperBound": 20,
                "ScalingAdjustment": 10,
            },
            {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 30},
        ],
        **extra,
    }


def test_step_bounds_follow_the_user_guide_example() -> None:
    # Threshold 50 %, PercentChangeInCapacity, capacity 10 → 11 at 60 %, then 14 at 70 %.
    config = parse_step_config(step_config("PercentChangeInCapacity"))
    step = config.step_for(60 - 50)
    assert step is not None and config.apply(10, step) == 11
    step = config.step_for(70 - 50)
    assert step is not None and config.apply(11, step) == 14
    step = config.step_for(55 - 50)
    assert step is not None and config.apply(10, step) == 10
    scale_in = parse_step_config(
        {
            "AdjustmentType": "PercentChangeInCapacity",
            "StepAdjustments": [
                {
                    "MetricIntervalLowerBound": -10,
                    "MetricIntervalUpperBound": 0,
                    "ScalingAdjustment": 0,
                },
                {
                    "MetricIntervalLowerBound": -20,
                    "MetricIntervalUpperBound": -10,
                    "ScalingAdjustment": -10,
                },
                {"MetricIntervalUpperBound": -20, "ScalingAdjustment": -30},
            ],
        }
    )
    step = scale_in.step_for(40 - 50)  # below the threshold: upper bounds inclusive
    assert step is not None and step.adjustment == -10 and scale_in.apply(14, step) == 13
    step = scale_in.step_for(30 - 50)
    assert step is not None and scale_in.apply(13, step) == 10


@pytest.mark.parametrize(
    ("capacity", "percent", "magnitude", "wanted"),
    [
        (10, 127, None, 22),  # 12.7 rounds down
        (3, 20, None, 4),  # 0.6 rounds to 1
        (3, -20, None, 2),  # -0.6 rounds to -1
        (10, -67, None, 4),  # -6.7 rounds up to -6
        (4, 25, 2, 6),  # MinAdjustmentMagnitude: at least 2
    ],
)
def test_percent_change_rounding(
    capacity: int, percent: int, magnitude: int | None, wanted: int
) -> None:
    extra = {"MinAdjustmentMagnitude": magnitude} if magnitude else {}
    config = parse_step_config(
        {
            "AdjustmentType": "PercentChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": percent}],
            **extra,
        }
    )
    step = config.step_for(1.0)
    assert step is not None and config.apply(capacity, step) == wanted


def test_exact_capacity_and_change_in_capacity() -> None:
    exact = parse_step_config(
        {
            "AdjustmentType": "ExactCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 5}],
        }
    )
    step = exact.step_for(3.0)
    assert step is not None and exact.apply(2, step) == 5
    assert exact.step_for(-1.0) is None  # no step holds a breach below the threshold


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ([], "at least one step"),
        ([{"ScalingAdjustment": 1}], "both a null lower bound and a null upper bound"),
        (
            [
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 10,
                    "ScalingAdjustment": 1,
                },
                {"MetricIntervalLowerBound": 5, "ScalingAdjustment": 2},
            ],
            "neither overlap nor leave a gap",
        ),
        (
            [
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 10,
                    "ScalingAdjustment": 1,
                },
                {"MetricIntervalLowerBound": 12, "ScalingAdjustment": 2},
            ],
            "neither overlap nor leave a gap",
        ),
        (
            [
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 10,
                    "ScalingAdjustment": 1,
                }
            ],
            "positive upper bound",
        ),
        (
            [
                {
                    "MetricIntervalLowerBound": -5,
                    "MetricIntervalUpperBound": 0,
                    "ScalingAdjustment": -1,
                }
            ],
            "negative lower bound",
        ),
        (
            [
                {
                    "MetricIntervalLowerBound": 5,
                    "MetricIntervalUpperBound": 5,
                    "ScalingAdjustment": 1,
                }
            ],
            "must be less than",
        ),
        (
            [
                {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1},
                {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 2},
            ],
            "Only one step adjustment can have a null upper bound",
        ),
    ],
)
def test_invalid_step_adjustments(steps: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_step_config({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": steps})
    assert words in caught.value.message


def test_other_step_configuration_rules() -> None:
    with pytest.raises(ValidationError, match="AdjustmentType is required"):
        parse_step_config({"StepAdjustments": [{"ScalingAdjustment": 1}]})
    with pytest.raises(ValidationError, match="only supported with AdjustmentType"):
        parse_step_config(step_config(MinAdjustmentMagnitude=2))
    with pytest.raises(ValidationError, match="must not be negative"):
        parse_step_config(
            {
                "AdjustmentType": "ExactCapacity",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": -1}],
            }
        )
    assert parse_step_config(step_config()).cooldown == 300


def test_step_proposals_with_cooldowns_and_a_forced_alarm() -> None:
    config = parse_step_config(
        {
            "AdjustmentType": "ChangeInCapacity",
            "Cooldown": 120,
            "MetricAggregationType": "Maximum",
            "StepAdjustments": [
                {
                    "MetricIntervalLowerBound": 0,
                    "MetricIntervalUpperBound": 10,
                    "ScalingAdjustment": 2,
                },
                {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
            ],
        }
    )
    none = Cooldowns()
    first = step_proposal(
        "s", "a", config, threshold=50, values=[40, 55], current=10, cooldowns=none, now=NOW
    )
    assert first == Proposal("s", "a", 12, 120)
    # During the cooldown a +3 step counts the +2 already added: only 1 more.
    cooling = none.scaled_out(NOW, 10, 120)
    again = step_proposal(
        "s", "a", config, threshold=50, values=[65], current=12, cooldowns=cooling, now=NOW + 60
    )
    assert again == Proposal("s", "a", 13, 120)
    # A forced ALARM with no datapoints is a breach of 0: the first step.
    forced = step_proposal(
        "s", "a", config, threshold=50, values=[], current=10, cooldowns=none, now=NOW
    )
    assert forced == Proposal("s", "a", 12, 120)


# -- combining proposals -------------------------------------------------------------------


def test_scale_out_wins_and_the_largest_capacity_is_taken() -> None:
    decision = decide(
        4,
        [Proposal("a", "x", 3), Proposal("b", "y", 6), Proposal("c", "z", 5)],
        minimum=1,
        maximum=10,
    )
    assert decision.capacity == 6 and decision.proposal == Proposal("b", "y", 6)
    scale_in = decide(4, [Proposal("a", "x", 2), Proposal("b", "y", 3)], minimum=1, maximum=10)
    assert scale_in.capacity == 3


def test_decisions_are_clamped_and_say_why_nothing_changed() -> None:
    assert decide(4, [Proposal("a", "x", 20)], minimum=1, maximum=8).capacity == 8
    at_max = decide(8, [Proposal("a", "x", 20)], minimum=1, maximum=8)
    assert at_max.capacity is None and at_max.not_scaled is NotScaledCode.AT_MAX
    at_min = decide(1, [Proposal("a", "x", 0)], minimum=1, maximum=8)
    assert at_min.capacity is None and at_min.not_scaled is NotScaledCode.AT_MIN
    same = decide(3, [Proposal("a", "x", 3)], minimum=1, maximum=8)
    assert same.capacity is None and same.not_scaled is NotScaledCode.AT_DESIRED


def test_suspended_directions_are_not_taken() -> None:
    out = decide(3, [Proposal("a", "x", 5)], minimum=1, maximum=8, out_suspended=True)
    assert out.capacity is None
    blocked_in = decide(3, [Proposal("a", "x", 1)], minimum=1, maximum=8, in_suspended=True)
    assert blocked_in.capacity is None
    # A suspended scale-out does not let a scale-in through.
    mixed = decide(
        3, [Proposal("a", "x", 5), Proposal("b", "y", 1)], minimum=1, maximum=8, out_suspended=True
    )
    assert mixed.capacity is None


def test_resource_ids_and_dimensions() -> None:
    assert VARIANT.endpoint == "shop" and VARIANT.variant == "AllTraffic"
    assert COMPONENT.component == "llm"
    assert ScalableDimension.COMPONENT_COPIES.what == "desired copy count"
    for namespace, resource, dimension, words in [
        ("ecs", "service/a/b", "ecs:service:DesiredCount", "Unsupported service namespace ecs"),
        ("sagemaker", "x", "ecs:service:DesiredCount", "Unsupported scalable dimension"),
        (
            "sagemaker",
            "endpoint/a",
            "sagemaker:variant:DesiredInstanceCount",
            "endpoint/{EndpointName}",
        ),
        (
            "sagemaker",
            "endpoint/a/variant/b",
            "sagemaker:inference-component:DesiredCopyCount",
            "inference-component/{InferenceComponentName}",
        ),
    ]:
        with pytest.raises(ValidationError) as caught:
            parse_target(namespace, resource, dimension)
        assert words in caught.value.message
