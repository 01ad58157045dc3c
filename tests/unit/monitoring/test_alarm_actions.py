"""Alarm actions: handlers by ARN prefix, on transitions and once a minute after."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from moorage.clock import FakeClock
from moorage.monitoring import (
    AlarmDefinition,
    AlarmEvaluator,
    ComparisonOperator,
    MetricKey,
    MetricStore,
    StateValue,
    TreatMissingData,
)
from moorage.monitoring.alarm_actions import ActionInvocation
from moorage.monitoring.alarm_eval import recent_values

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
KEY = MetricKey.of("App", "Queue", {"Q": "a"})
POLICY = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x:resource/sagemaker/y"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"


def _definition(**changes: object) -> AlarmDefinition:
    base = AlarmDefinition(
        "queue",
        ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=2,
        threshold=10.0,
        namespace=KEY.namespace,
        metric_name=KEY.name,
        dimensions=tuple(KEY.dimension_list()),
        statistic="Maximum",
        period=60,
        treat_missing_data=TreatMissingData.NOT_BREACHING,
        alarm_actions=(POLICY, TOPIC),
        ok_actions=(POLICY,),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _setup(
    definition: AlarmDefinition | None = None, *, repeat: bool = True
) -> tuple[FakeClock, MetricStore, AlarmEvaluator, list[ActionInvocation]]:
    clock = FakeClock(T0)
    store = MetricStore(clock)
    evaluator = AlarmEvaluator(clock, store)
    evaluator.put_alarm(definition or _definition())
    seen: list[ActionInvocation] = []
    evaluator.actions.register("arn:aws:autoscaling:", seen.append, repeat=repeat)
    return clock, store, evaluator, seen


def _minutes(
    clock: FakeClock, store: MetricStore, evaluator: AlarmEvaluator, value: float, n: int
) -> None:
    for _ in range(n):
        store.recorder(KEY, "None").record(value, clock.now() + 1)
        for _ in range(60):
            clock.advance(1)
            evaluator.evaluate_all()


def test_transitions_invoke_the_registered_actions_of_the_new_state() -> None:
    clock, store, evaluator, seen = _setup()
    evaluator.evaluate_all()  # INSUFFICIENT_DATA -> OK (no data counts as not breaching)
    assert [(i.state, i.action, i.repeated) for i in seen] == [(StateValue.OK, POLICY, False)]
    seen.clear()
    _minutes(clock, store, evaluator, 50.0, 2)
    # Only the autoscaling ARN has a handler; the SNS topic is never run.
    alarm = [i for i in seen if i.state is StateValue.ALARM]
    assert (alarm[0].alarm_name, alarm[0].action, alarm[0].repeated) == ("queue", POLICY, False)
    assert all(i.action == POLICY for i in seen)
    # Before it, the OK state's action ran again once a minute.
    assert any(i.state is StateValue.OK and i.repeated for i in seen)


def test_repeating_actions_run_once_a_minute_while_the_state_lasts() -> None:
    clock, store, evaluator, seen = _setup()
    evaluator.evaluate_all()
    seen.clear()
    _minutes(clock, store, evaluator, 50.0, 6)
    alarm = [i for i in seen if i.state is StateValue.ALARM]
    assert not alarm[0].repeated and all(i.repeated for i in alarm[1:])
    gaps = [b.at - a.at for a, b in itertools.pairwise(alarm)]
    assert gaps and all(gap == 60 for gap in gaps)


def test_non_repeating_handlers_and_disabled_actions() -> None:
    clock, store, evaluator, seen = _setup(repeat=False)
    evaluator.evaluate_all()
    _minutes(clock, store, evaluator, 50.0, 6)
    assert [i.state for i in seen] == [StateValue.OK, StateValue.ALARM]
    clock2, store2, evaluator2, seen2 = _setup(_definition(actions_enabled=False))
    evaluator2.evaluate_all()
    _minutes(clock2, store2, evaluator2, 50.0, 3)
    assert seen2 == []


def test_set_alarm_state_invokes_and_a_failing_handler_does_not_stop_others() -> None:
    _, _, evaluator, seen = _setup()

    def broken(invocation: ActionInvocation) -> None:
        raise RuntimeError("boom")

    evaluator.actions.register("arn:aws:", broken)
    evaluator.set_alarm_state("queue", StateValue.ALARM, "testing")
    assert [(i.state, i.repeated) for i in seen] == [(StateValue.ALARM, False)]
    # The same state again is no transition: nothing runs.
    evaluator.set_alarm_state("queue", StateValue.ALARM, "again")
    assert len(seen) == 1


def test_an_alarm_restored_in_alarm_is_invoked_at_the_first_tick() -> None:
    clock, store, evaluator, _ = _setup()
    evaluator.set_alarm_state("queue", StateValue.ALARM, "before the restart")
    record = evaluator.get("queue")
    assert record is not None
    clock.advance(600)
    # The queue is still long: evaluated, the alarm stays in ALARM (no transition).
    for minute in (1, 2, 3):
        store.recorder(KEY, "None").record(50.0, clock.now() - 60 * minute)
    fresh = AlarmEvaluator(clock, store)
    fresh.load(record.definition, record.state)
    seen: list[ActionInvocation] = []
    fresh.actions.register("arn:aws:autoscaling:", seen.append, repeat=True)
    fresh.evaluate_all()
    assert [(i.state, i.repeated) for i in seen] == [(StateValue.ALARM, True)]


def test_deleting_an_alarm_forgets_its_invocations() -> None:
    clock, _, evaluator, seen = _setup()
    evaluator.set_alarm_state("queue", StateValue.ALARM, "t")
    evaluator.delete_alarms(["queue"])
    clock.advance(120)
    evaluator.evaluate_all()
    assert len(seen) == 1


def test_recent_values_are_the_datapoints_an_evaluation_reads() -> None:
    _, store, _, _ = _setup()
    for minute, value in enumerate([5.0, 50.0, 70.0]):
        store.recorder(KEY, "None").record(value, T0 + 60 * minute + 1)
    definition = _definition()
    assert recent_values(definition, store, T0 + 180) == [50.0, 70.0]  # EvaluationPeriods 2
    assert recent_values(definition, store, T0 + 30) == []
