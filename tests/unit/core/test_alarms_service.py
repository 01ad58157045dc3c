"""The durable half of alarms: records, restore, persisted transitions, history pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from moorage.arns import Partition
from moorage.clock import FakeClock
from moorage.control.alarm_records import KIND, StoredAlarm, alarm_key
from moorage.control.alarms import AlarmsService
from moorage.control.context import ControlContext
from moorage.monitoring import (
    AlarmDefinition,
    AlarmEvaluator,
    InvalidNextToken,
    MetricStore,
    StateChange,
    StateValue,
)
from moorage.store.base import Record
from moorage.store.memory import MemoryStore

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()

SINGLE: dict[str, Any] = {
    "AlarmName": "Latency",
    "AlarmDescription": "slow",
    "Namespace": "App",
    "MetricName": "Latency",
    "Dimensions": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}],
    "ExtendedStatistic": "p99",
    "Period": 10,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 5.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "breaching",
    "EvaluateLowSampleCountPercentile": "ignore",
    "Unit": "Milliseconds",
    "OKActions": ["arn:ok"],
    "ActionsEnabled": False,
}
MATH: dict[str, Any] = {
    "AlarmName": "rate",
    "Metrics": [
        {
            "Id": "m",
            "MetricStat": {
                "Metric": {
                    "Namespace": "App",
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "A", "Value": "1"}],
                },
                "Period": 60,
                "Stat": "Sum",
                "Unit": "Count",
            },
            "ReturnData": False,
        },
        {"Id": "e", "Expression": "m * 2", "Label": "double", "ReturnData": True},
    ],
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "LessThanThreshold",
}


class World:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.clock = FakeClock(T0)
        self.store = store or MemoryStore()
        self.ctx = ControlContext(self.store, self.clock, Partition("us-east-1", "123456789012"))
        self.metrics = MetricStore(self.clock)
        self.evaluator = AlarmEvaluator(self.clock, self.metrics)
        self.service = AlarmsService(self.ctx, self.evaluator)

    def restarted(self) -> World:
        world = World(self.store)
        world.clock.set(self.clock.now())
        world.service.restore()
        return world


@pytest.mark.parametrize("params", [SINGLE, MATH], ids=["single", "math"])
def test_definitions_round_trip_through_records(params: dict[str, Any]) -> None:
    definition = AlarmDefinition.from_request(params)
    world = World()
    world.service.put_metric_alarm(params)
    record = world.store.get(KIND, alarm_key(definition.name))
    assert record is not None
    stored = StoredAlarm.from_record(record)
    assert stored.definition == definition
    assert stored.arn == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{definition.name}"


def test_names_differing_in_case_are_two_records() -> None:
    world = World()
    world.service.put_metric_alarm({**SINGLE, "AlarmName": "Latency"})
    world.service.put_metric_alarm({**SINGLE, "AlarmName": "latency", "Threshold": 7.0})
    assert len(world.store.list_records(KIND)) == 2
    again = world.restarted()
    assert [r.definition.name for r in again.evaluator.alarms()] == ["Latency", "latency"]
    found = again.evaluator.get("latency")
    assert found is not None and found.definition.threshold == 7.0


def test_evaluated_and_forced_states_are_persisted() -> None:
    world = World()
    # Breaching when there is no data, so the first evaluation moves it to ALARM.
    world.service.put_metric_alarm(
        {k: v for k, v in SINGLE.items() if k != "EvaluateLowSampleCountPercentile"}
    )
    world.clock.advance(30)
    [change] = world.evaluator.evaluate_all()
    assert change.current.value is StateValue.ALARM
    restored = world.restarted().evaluator.get("Latency")
    assert restored is not None and restored.state == change.current

    # A later subscriber (a rollout) finds the transition already on disk.
    on_disk: list[str] = []

    def later(change: StateChange) -> None:
        record = world.store.get(KIND, alarm_key(change.alarm_name))
        assert record is not None
        on_disk.append(record.doc["state"]["value"])

    world.evaluator.subscribe(later)
    world.service.set_alarm_state(
        {"AlarmName": "Latency", "StateValue": "OK", "StateReason": "drill"}
    )
    assert on_disk == ["OK"]
    restored = world.restarted().evaluator.get("Latency")
    assert restored is not None
    assert (restored.state.value, restored.state.reason) == (StateValue.OK, "drill")
    assert restored.state.forced_until == world.clock.now() + 10

    # The same value again: no transition, but the new reason and hold are kept.
    world.clock.advance(3)
    world.service.set_alarm_state(
        {"AlarmName": "Latency", "StateValue": "OK", "StateReason": "again"}
    )
    assert on_disk == ["OK"]
    restored = world.restarted().evaluator.get("Latency")
    assert restored is not None
    assert (restored.state.reason, restored.state.forced_until) == ("again", world.clock.now() + 10)


def test_update_keeps_creation_and_tags_and_delete_drops_them() -> None:
    world = World()
    world.service.put_metric_alarm({**SINGLE, "Tags": [{"Key": "team", "Value": "ml"}]})
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Latency"
    assert world.store.get_tags(arn) == [("team", "ml")]
    world.clock.advance(5)
    world.service.put_metric_alarm({**SINGLE, "Tags": [{"Key": "ignored", "Value": "x"}]})
    record = world.store.get(KIND, alarm_key("Latency"))
    assert record is not None
    assert (record.created, record.doc["configuredAt"]) == (round(T0, 3), round(T0 + 5, 3))
    assert world.store.get_tags(arn) == [("team", "ml")]
    world.service.delete_alarms({"AlarmNames": ["Latency", "unknown"]})
    assert world.store.list_records(KIND) == []
    assert world.store.get_tags(arn) == []
    assert world.restarted().evaluator.alarms() == []


def test_an_unreadable_record_is_skipped() -> None:
    world = World()
    world.service.put_metric_alarm(SINGLE)
    world.store.put(Record(KIND, alarm_key("broken"), "arn:broken", T0, T0, {"definition": {}}))
    again = world.restarted()
    assert [r.definition.name for r in again.evaluator.alarms()] == ["Latency"]


def test_history_pages_through_items_of_one_instant() -> None:
    world = World()
    world.service.put_metric_alarm(SINGLE)
    for value in ("ALARM", "OK", "ALARM", "OK"):
        # The clock stands still: every item has the same timestamp.
        world.service.set_alarm_state(
            {"AlarmName": "Latency", "StateValue": value, "StateReason": value}
        )
    everything = world.service.describe_alarm_history({"AlarmName": "Latency"})
    assert len(everything["AlarmHistoryItems"]) == 5
    for ascending in (False, True):
        params: dict[str, Any] = {"AlarmName": "Latency", "MaxRecords": 2}
        if ascending:
            params["ScanBy"] = "TimestampAscending"
        seen: list[Any] = []
        while True:
            page = world.service.describe_alarm_history(params)
            seen.extend(page["AlarmHistoryItems"])
            if "NextToken" not in page:
                break
            params["NextToken"] = page["NextToken"]
        expected = everything["AlarmHistoryItems"]
        assert seen == (expected[::-1] if ascending else expected)
    with pytest.raises(InvalidNextToken):
        world.service.describe_alarm_history({"NextToken": "e30="})
    token = world.service.describe_alarms({"MaxRecords": 1, "AlarmNames": ["Latency"]})
    assert "NextToken" not in token
