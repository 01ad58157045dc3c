"""The alarm evaluator: registry, ticks, SetAlarmState, subscribers, history."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import (
    AlarmDefinition,
    AlarmEvaluator,
    AlarmNotFound,
    ComparisonOperator,
    HistoryItemType,
    MetricKey,
    MetricStore,
    Retention,
    StateChange,
    StateValue,
    TreatMissingData,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
KEY = MetricKey.of("AWS/SageMaker", "Invocation5XXErrors", {"EndpointName": "e"})


def _definition(name: str = "errors", period: int = 60, threshold: float = 0.0) -> AlarmDefinition:
    return AlarmDefinition(
        name,
        ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        threshold=threshold,
        namespace=KEY.namespace,
        metric_name=KEY.name,
        dimensions=tuple(KEY.dimension_list()),
        statistic="Sum",
        period=period,
        treat_missing_data=TreatMissingData.NOT_BREACHING,
    )


def _setup(period: int = 60) -> tuple[FakeClock, MetricStore, AlarmEvaluator, list[StateChange]]:
    clock = FakeClock(T0)
    store = MetricStore(clock)
    evaluator = AlarmEvaluator(clock, store)
    evaluator.put_alarm(_definition(period=period))
    seen: list[StateChange] = []
    evaluator.subscribe(seen.append, ["errors"])
    return clock, store, evaluator, seen


def test_a_new_alarm_is_insufficient_data_then_evaluated() -> None:
    clock, _, evaluator, seen = _setup()
    record = evaluator.get("errors")
    assert record is not None and record.state.value is StateValue.INSUFFICIENT_DATA
    [created] = evaluator.history("errors")
    assert created.summary == 'Alarm "errors" created'
    changes = evaluator.evaluate_all()
    assert [(c.previous.value, c.current.value) for c in changes] == [
        (StateValue.INSUFFICIENT_DATA, StateValue.OK)
    ]
    assert seen == changes
    assert clock.now() == T0


def test_breaching_data_raises_the_alarm_when_its_period_closes() -> None:
    clock, store, evaluator, seen = _setup()
    evaluator.evaluate_all()
    store.recorder(KEY, "Count").record(1.0, T0 + 10)
    clock.set(T0 + 30)
    assert evaluator.evaluate_all() == []  # the window has not moved
    clock.set(T0 + 60)
    [change] = evaluator.evaluate_all()
    assert change.current.value is StateValue.ALARM and not change.forced
    assert change.history.summary == "Alarm updated from OK to ALARM"
    assert change.current.reason.startswith(
        "Threshold Crossed: 1 datapoint [1.0 (21/11/26 10:00:00)]"
    )
    assert [c.current.value for c in seen] == [StateValue.OK, StateValue.ALARM]
    # With no newer data the breaching datapoint stays the most recent one in the
    # evaluation range (N + 2 periods), as in CloudWatch, until it leaves it.
    for t in (120, 180):
        clock.set(T0 + t)
        assert evaluator.evaluate_all() == []
    clock.set(T0 + 240)
    [change] = evaluator.evaluate_all()
    assert change.current.value is StateValue.OK
    # A newer good datapoint ends the alarm at once.
    store.recorder(KEY, "Count").record(2.0, T0 + 250)
    clock.set(T0 + 300)
    assert [c.current.value for c in evaluator.evaluate_all()] == [StateValue.ALARM]
    store.recorder(KEY, "Count").record(0.0, T0 + 310)
    clock.set(T0 + 360)
    assert [c.current.value for c in evaluator.evaluate_all()] == [StateValue.OK]


def test_set_alarm_state_is_seen_at_once_and_held_for_a_period() -> None:
    clock, _, evaluator, seen = _setup()
    evaluator.evaluate_all()
    clock.set(T0 + 5)
    state = evaluator.set_alarm_state("errors", StateValue.ALARM, "rollback drill")
    assert state.value is StateValue.ALARM
    assert seen[-1].forced and seen[-1].current.value is StateValue.ALARM
    # Ticks during the hold, even across a window boundary, leave it alone.
    for t in (6, 30, 60, 64):
        clock.set(T0 + t)
        assert evaluator.evaluate_all() == []
        record = evaluator.get("errors")
        assert record is not None and record.state.value is StateValue.ALARM
    clock.set(T0 + 65)
    [back] = evaluator.evaluate_all()
    assert (back.previous.value, back.current.value) == (StateValue.ALARM, StateValue.OK)
    summaries = [item.summary for item in evaluator.history("errors", HistoryItemType.STATE_UPDATE)]
    assert summaries == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]


def test_set_alarm_state_on_an_unknown_alarm() -> None:
    _, _, evaluator, _ = _setup()
    with pytest.raises(AlarmNotFound) as caught:
        evaluator.set_alarm_state("nope", StateValue.ALARM, "x")
    assert (caught.value.code, caught.value.status) == ("ResourceNotFound", 404)


def test_subscribers_are_filtered_isolated_and_removable() -> None:
    clock, store, evaluator, _ = _setup()
    evaluator.put_alarm(_definition("other"))
    everything: list[str] = []
    only_other: list[str] = []

    def broken(change: StateChange) -> None:
        raise RuntimeError("subscriber bug")

    evaluator.subscribe(broken)
    unsubscribe = evaluator.subscribe(lambda c: everything.append(c.alarm_name))
    evaluator.subscribe(lambda c: only_other.append(c.alarm_name), ["other"])
    evaluator.evaluate_all()
    assert sorted(everything) == ["errors", "other"] and only_other == ["other"]
    unsubscribe()
    evaluator.set_alarm_state("other", StateValue.ALARM, "x")
    assert sorted(everything) == ["errors", "other"] and only_other == ["other", "other"]
    assert store is evaluator.store and clock is evaluator.clock


def test_updating_an_alarm_keeps_its_state_and_reevaluates() -> None:
    clock, store, evaluator, _ = _setup()
    store.recorder(KEY, "Count").record(5.0, T0)
    clock.set(T0 + 60)
    evaluator.evaluate_all()
    record = evaluator.get("errors")
    assert record is not None and record.state.value is StateValue.ALARM
    item = evaluator.put_alarm(_definition(threshold=10.0))
    assert item.summary == 'Alarm "errors" updated'
    record = evaluator.get("errors")
    assert record is not None and record.state.value is StateValue.ALARM
    [change] = evaluator.evaluate_all()  # same window, but the definition changed
    assert change.current.value is StateValue.OK


def test_delete_and_list() -> None:
    _, _, evaluator, _ = _setup()
    evaluator.put_alarm(_definition("another"))
    assert [r.definition.name for r in evaluator.alarms()] == ["another", "errors"]
    [deleted] = evaluator.delete_alarms(["errors", "never-existed"])
    assert deleted.summary == 'Alarm "errors" deleted'
    assert evaluator.get("errors") is None
    assert [r.definition.name for r in evaluator.alarms()] == ["another"]
    # History outlives the alarm.
    assert [i.summary for i in evaluator.history("errors", ascending=True)] == [
        'Alarm "errors" created',
        'Alarm "errors" deleted',
    ]


def test_history_filters_by_time() -> None:
    clock, _, evaluator, _ = _setup()
    clock.set(T0 + 100)
    evaluator.put_alarm(_definition("later"))
    assert [i.alarm_name for i in evaluator.history(start=T0 + 50)] == ["later"]
    assert [i.alarm_name for i in evaluator.history(end=T0 + 50)] == ["errors"]
    assert [i.alarm_name for i in evaluator.history()] == ["later", "errors"]


def test_invalid_definitions_are_not_stored() -> None:
    _, _, evaluator, _ = _setup()
    with pytest.raises(Exception, match="Period"):
        evaluator.put_alarm(_definition("bad", period=7))
    assert evaluator.get("bad") is None


def test_loaded_alarms_are_evaluated() -> None:
    clock = FakeClock(T0)
    evaluator = AlarmEvaluator(clock, MetricStore(clock))
    record = AlarmEvaluator(clock, MetricStore(clock))
    record.put_alarm(_definition())
    saved = record.get("errors")
    assert saved is not None
    evaluator.load(saved.definition, saved.state)
    assert evaluator.history() == []
    assert [c.current.value for c in evaluator.evaluate_all()] == [StateValue.OK]


def test_evaluation_runs_the_store_retention() -> None:
    clock = FakeClock(T0)
    store = MetricStore(clock, Retention(high_resolution_seconds=60, total_seconds=120))
    evaluator = AlarmEvaluator(clock, store)
    store.recorder(MetricKey.of("App", "Old")).record(1.0, T0)
    clock.set(T0 + 600)
    evaluator.evaluate_all()
    assert store.list_metrics() == []


def test_the_loop_ticks_on_the_clock() -> None:
    async def scenario() -> list[StateValue]:
        clock, store, evaluator, seen = _setup(period=10)
        loop = asyncio.create_task(evaluator.run())
        await asyncio.sleep(0)
        store.recorder(KEY, "Count").record(3.0, T0 + 2)
        for _ in range(12):
            clock.advance(1)
            await asyncio.sleep(0)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        return [c.current.value for c in seen]

    assert asyncio.run(scenario()) == [StateValue.OK, StateValue.ALARM]
