"""The controller on a fake clock: real alarms, metrics, records and services; a fake lever.

The lever stands in for the endpoint (UpdateEndpointWeightsAndCapacities is
exercised end to end in tests/e2e/test_autoscaling.py); everything else is
the server's own code: the alarm evaluator and its actions, the metric
store, the policy and scheduled-action services, the store's records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from moorage.arns import Partition
from moorage.autoscaling.activities import ActivityLog, ActivityStatus
from moorage.autoscaling.controller import Controller
from moorage.autoscaling.levers import Capacity, Lever, Progress
from moorage.autoscaling.policies import PoliciesService
from moorage.autoscaling.records import Registry
from moorage.autoscaling.resources import ResourceRef
from moorage.autoscaling.scheduled import ScheduledActionsService
from moorage.autoscaling.targets import TargetsService
from moorage.clock import FakeClock
from moorage.control.alarms import AlarmsService
from moorage.control.context import ControlContext
from moorage.errors import ValidationError
from moorage.monitoring import AlarmEvaluator, MetricStore
from moorage.store.memory import MemoryStore

T0 = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC).timestamp()
RESOURCE = "endpoint/shop/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
IDS = {"ServiceNamespace": "sagemaker", "ResourceId": RESOURCE, "ScalableDimension": DIMENSION}
DIMS = {"EndpointName": "shop", "VariantName": "AllTraffic"}


class FakeLever:
    """The endpoint's variant: a capacity that changes when asked, at once or slowly."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.busy = False
        self.slow = False
        self.refuse: str | None = None
        self.calls: list[int] = []

    def check(self, ref: ResourceRef) -> Capacity:
        return Capacity(self.capacity, self.busy)

    def read(self, ref: ResourceRef) -> Capacity | None:
        return self.check(ref)

    def set(self, ref: ResourceRef, capacity: int) -> None:
        if self.refuse is not None:
            raise ValidationError(self.refuse)
        self.calls.append(capacity)
        self.capacity = capacity
        self.busy = self.slow

    def progress(self, ref: ResourceRef, capacity: int) -> Progress:
        if self.busy:
            return Progress(ActivityStatus.IN_PROGRESS)
        return Progress(ActivityStatus.SUCCESSFUL)


class OneLever:
    def __init__(self, lever: FakeLever) -> None:
        self.lever = lever

    def of(self, ref: ResourceRef) -> Lever:
        return self.lever


class World:
    def __init__(self, capacity: int = 2, store: MemoryStore | None = None) -> None:
        self.clock = FakeClock(T0)
        self.store = store or MemoryStore()
        self.ctx = ControlContext(self.store, self.clock, Partition("us-east-1", "123456789012"))
        self.metrics = MetricStore(self.clock)
        self.evaluator = AlarmEvaluator(self.clock, self.metrics)
        self.alarms = AlarmsService(self.ctx, self.evaluator)
        self.alarms.restore()
        self.registry = Registry(self.store)
        self.lever = FakeLever(capacity)
        levers = OneLever(self.lever)
        self.log = ActivityLog(self.store)
        self.controller = Controller(
            self.clock, self.registry, levers, self.log, self.evaluator, self.metrics
        )
        self.policies = PoliciesService(self.ctx, self.registry, self.alarms, self.evaluator)
        self.targets = TargetsService(
            self.ctx, self.registry, levers, self.log, self.controller, self.policies
        )
        self.scheduled = ScheduledActionsService(self.ctx, self.registry, self.controller)

    def register(self, minimum: int = 1, maximum: int = 6, **extra: Any) -> None:
        self.targets.register_scalable_target(
            {**IDS, "MinCapacity": minimum, "MaxCapacity": maximum, **extra}
        )

    def track(self, name: str = "ipi", target: float = 70.0, **extra: Any) -> dict[str, Any]:
        config = {
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 0,
            "ScaleInCooldown": 0,
            **extra,
        }
        return self.policies.put_scaling_policy(
            {
                **IDS,
                "PolicyName": name,
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": config,
            }
        )

    def run(
        self,
        seconds: int,
        per_minute: float | None = None,
        load: float | None = None,
        queue: float | None = None,
    ) -> None:
        """Tick second by second, recording ``InvocationsPerInstance`` once a minute.

        ``per_minute``: invocations per instance in each minute, whatever the
        capacity (a metric lagging behind it); ``load``: invocations per minute
        in all, shared by the instances as SageMaker's metric shares them;
        ``queue``: a custom metric ``App/Queue`` once a minute.
        """
        for _ in range(seconds):
            self.clock.advance(1)
            now = self.clock.now()
            value = per_minute
            if load is not None:
                value = load / max(1, self.lever.capacity)
            if value is not None and int(now) % 60 == 30:
                self.metrics.record("AWS/SageMaker", "InvocationsPerInstance", DIMS, value, "Count")
            if queue is not None and int(now) % 60 == 30:
                self.metrics.record("App", "Queue", {}, queue)
            self.evaluator.evaluate_all()
            self.controller.step(now)

    def activities(self, **kwargs: Any) -> list[Any]:
        return self.log.all(**kwargs)


def test_target_tracking_scales_out_proportionally_then_back_in() -> None:
    world = World(capacity=2)
    world.register(minimum=1, maximum=6)
    reply = world.track()
    high, low = (a["AlarmName"] for a in reply["Alarms"])
    world.run(5 * 60, load=210.0)  # 105 per instance: 1.5 x the target
    assert world.lever.calls == [3]  # ceil(2 x 105 / 70); then 70 per instance: on target
    [activity] = world.activities()
    assert activity.description == "Setting desired instance count to 3."
    assert activity.cause == f"monitor alarm {high} in state ALARM triggered policy ipi"
    assert activity.status is ActivityStatus.SUCCESSFUL
    assert activity.message == (
        "Successfully set desired instance count to 3. Change successfully fulfilled by sagemaker."
    )
    # The load falls to 60 a minute, 20 per instance: AlarmLow needs 15 minutes below 63.
    world.run(10 * 60, load=60.0)
    assert world.lever.calls == [3]
    world.run(8 * 60, load=60.0)
    assert world.lever.calls == [3, 1]  # ceil(3 x 20 / 70)
    world.run(5 * 60, load=60.0)
    assert world.lever.calls == [3, 1]  # at the minimum
    assert world.activities()[0].cause.startswith(f"monitor alarm {low} in state ALARM")


def test_at_max_capacity_a_not_scaled_activity_is_kept_in_memory() -> None:
    world = World(capacity=6)
    world.register(minimum=1, maximum=6)
    world.track()
    world.run(6 * 60, per_minute=500.0)
    assert world.lever.calls == []
    assert world.activities() == []
    not_scaled = world.activities(include_not_scaled=True)
    # Invoked on the transition, then once a minute while in ALARM.
    assert len(not_scaled) >= 2
    reason = not_scaled[0].not_scaled[0]
    assert (reason.code.value, reason.maximum, reason.current) == ("AlreadyAtMaxCapacity", 6, 6)
    assert not_scaled[0].status is ActivityStatus.FAILED


def test_scale_in_waits_for_every_target_tracking_policy() -> None:
    world = World(capacity=4)
    world.register(minimum=1, maximum=6)
    world.track("ipi")
    world.track(
        "queue",
        target=10.0,
        PredefinedMetricSpecification=None,
        CustomizedMetricSpecification={
            "MetricName": "Queue",
            "Namespace": "App",
            "Statistic": "Average",
        },
    )
    for _ in range(20 * 60):
        world.clock.advance(1)
        now = world.clock.now()
        if int(now) % 60 == 30:
            world.metrics.record("AWS/SageMaker", "InvocationsPerInstance", DIMS, 7.0, "Count")
            world.metrics.record("App", "Queue", {}, 10.0)  # on target: not low
        world.evaluator.evaluate_all()
        world.controller.step(now)
    assert world.lever.calls == []


def test_scale_out_cooldown_holds_back_the_same_scale_out() -> None:
    world = World(capacity=2)
    world.register(minimum=1, maximum=10)
    world.track(ScaleOutCooldown=600)
    world.run(4 * 60, per_minute=140.0)
    assert world.lever.calls == [4]
    # The metric (measured per instance) stays high for a while: no further scale-out
    # until it asks for more than the cooldown's base already gave.
    world.run(3 * 60, per_minute=140.0)
    assert world.lever.calls == [4]
    world.run(3 * 60, per_minute=280.0)
    assert world.lever.calls == [4, 8]


def test_busy_resources_are_waited_for_and_refusals_are_failed_activities() -> None:
    world = World(capacity=2)
    world.register(minimum=1, maximum=6)
    world.track()
    world.lever.busy = True
    world.run(5 * 60, per_minute=140.0)
    assert world.lever.calls == []
    world.lever.busy = False
    world.run(2, per_minute=140.0)
    assert world.lever.calls == [4]
    world.lever.refuse = 'Cannot update in-progress endpoint "arn:aws:sagemaker:x".'
    world.run(3 * 60, per_minute=400.0)
    failed = [a for a in world.activities() if a.status is ActivityStatus.FAILED]
    assert failed
    assert failed[0].message == (
        "Failed to set desired instance count to 6. Reason: Cannot update in-progress endpoint "
        '"arn:aws:sagemaker:x".'
    )


def test_step_scaling_on_a_user_alarm_and_set_alarm_state() -> None:
    world = World(capacity=2)
    world.register(minimum=1, maximum=6)
    arn = world.policies.put_scaling_policy(
        {
            **IDS,
            "PolicyName": "step-out",
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {
                "AdjustmentType": "ChangeInCapacity",
                "Cooldown": 0,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}],
            },
        }
    )["PolicyARN"]
    world.alarms.put_metric_alarm(
        {
            "AlarmName": "busy",
            "Namespace": "App",
            "MetricName": "Queue",
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 100.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [arn],
        }
    )
    # SetAlarmState with no datapoints yet: a breach of 0, the first step (+2).
    world.alarms.set_alarm_state({"AlarmName": "busy", "StateValue": "ALARM", "StateReason": "t"})
    world.run(1)
    assert world.lever.calls == [4]
    assert (
        world.activities()[0].cause == "monitor alarm busy in state ALARM triggered policy step-out"
    )
    described = world.policies.describe_scaling_policies({"ServiceNamespace": "sagemaker"})
    assert described["ScalingPolicies"][0]["Alarms"][0]["AlarmName"] == "busy"
    # The queue then stays above the threshold: the alarm stays in ALARM and
    # invokes the policy once a minute, +2 each time up to the maximum.
    world.run(150, queue=150.0)
    assert world.lever.calls == [4, 6]
    world.run(60, queue=150.0)
    assert world.lever.calls == [4, 6]  # at the maximum: not scaled
    reason = world.activities(include_not_scaled=True)[0].not_scaled[0]
    assert reason.code.value == "AlreadyAtMaxCapacity"


def test_a_scheduled_action_sets_the_range_and_moves_the_capacity_into_it() -> None:
    world = World(capacity=1)
    world.register(minimum=1, maximum=4)
    when = dt.datetime.fromtimestamp(T0 + 90, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    world.scheduled.put_scheduled_action(
        {
            **IDS,
            "ScheduledActionName": "morning",
            "Schedule": f"at({when})",
            "ScalableTargetAction": {"MinCapacity": 3, "MaxCapacity": 5},
        }
    )
    world.run(89)
    assert world.lever.calls == []
    world.run(2)
    assert world.lever.calls == [3]
    described = world.targets.describe_scalable_targets({"ServiceNamespace": "sagemaker"})
    target = described["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 5)
    newest, bounds = world.activities()[:2]
    assert bounds.description == "Setting min capacity to 3 and max capacity to 5"
    assert bounds.cause == "scheduled action name morning was triggered"
    assert newest.description == "Setting desired instance count to 3."
    assert newest.cause == "minimum capacity was set to 3"
    world.run(600)
    assert world.lever.calls == [3]  # at() runs once


def test_suspended_scheduled_scaling_skips_runs_without_making_them_up() -> None:
    world = World(capacity=1)
    world.register(minimum=1, maximum=4, SuspendedState={"ScheduledScalingSuspended": True})
    world.scheduled.put_scheduled_action(
        {
            **IDS,
            "ScheduledActionName": "every-minute",
            "Schedule": "rate(1 minute)",
            "ScalableTargetAction": {"MinCapacity": 2},
        }
    )
    world.run(150)
    assert world.lever.calls == []
    world.register(SuspendedState={"ScheduledScalingSuspended": False})
    world.run(40)
    assert world.lever.calls == [2]


def test_a_new_minimum_raises_the_capacity_once_the_resource_is_free() -> None:
    world = World(capacity=1)
    world.lever.busy = True
    world.register(minimum=2, maximum=4)
    world.run(3)
    assert world.lever.calls == []
    world.lever.busy = False
    world.run(1)
    assert world.lever.calls == [2]
    assert world.activities()[0].cause == "minimum capacity was set to 2"
    world.register(maximum=1, minimum=1)
    world.run(1)
    assert world.lever.calls == [2, 1]
    assert world.activities()[0].cause == "maximum capacity was set to 1"


def test_in_progress_activities_and_cooldowns_survive_a_restart() -> None:
    first = World(capacity=2)
    first.lever.slow = True
    first.register(minimum=1, maximum=6)
    first.track(ScaleInCooldown=3600)
    first.run(5 * 60, per_minute=140.0)
    assert first.lever.calls == [4]
    [activity] = first.activities()
    assert activity.status is ActivityStatus.IN_PROGRESS
    second = World(capacity=4, store=first.store)
    second.clock.set(first.clock.now())
    second.run(1)
    assert second.activities()[0].status is ActivityStatus.SUCCESSFUL
    target = second.registry.targets()[0]
    assert target.cooldowns.out_at is not None and target.cooldowns.out_base == 2


def test_deleting_a_policy_deletes_its_alarms_and_stops_it() -> None:
    world = World(capacity=2)
    world.register()
    world.track()
    assert len(world.evaluator.alarms()) == 2
    world.policies.delete_scaling_policy({**IDS, "PolicyName": "ipi"})
    assert world.evaluator.alarms() == []
    world.run(5 * 60, per_minute=500.0)
    assert world.lever.calls == []


@pytest.mark.parametrize("disable", [True, False])
def test_disable_scale_in_creates_no_low_alarm(disable: bool) -> None:
    world = World()
    world.register()
    reply = world.track(DisableScaleIn=disable)
    assert len(reply["Alarms"]) == (1 if disable else 2)
    # Turning it off again later adds the AlarmLow back, the AlarmHigh keeps its name.
    again = world.track(DisableScaleIn=not disable)
    assert again["Alarms"][0] == reply["Alarms"][0]
    assert len(again["Alarms"]) == (2 if disable else 1)
    assert len(world.evaluator.alarms()) == len(again["Alarms"])
