"""Alarm state transitions, SetAlarmState's hold, and history items."""

from __future__ import annotations

import json

import pytest

from moorage.monitoring import (
    AlarmDefinition,
    AlarmState,
    ComparisonOperator,
    ConfigurationChange,
    Evaluation,
    HistoryItemType,
    InvalidFormat,
    StateValue,
    apply_evaluation,
    configuration_item,
    force_state,
    is_held,
)

T0 = 1_800_000_000.0
ALARM_DEF = AlarmDefinition(
    "latency",
    ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluation_periods=1,
    threshold=1.0,
    namespace="App",
    metric_name="Latency",
    statistic="Average",
    period=60,
)


def test_initial_state() -> None:
    state = AlarmState.initial(T0)
    assert state.value is StateValue.INSUFFICIENT_DATA
    assert state.reason == "Unchecked: Initial alarm creation"
    assert state.updated_at == state.transitioned_at == T0
    api = state.to_api()
    assert api["StateValue"] == "INSUFFICIENT_DATA" and "StateReasonData" not in api
    assert api["StateUpdatedTimestamp"].timestamp() == T0


def test_a_new_state_value_is_a_transition_with_history() -> None:
    before = AlarmState.initial(T0)
    evaluation = Evaluation(StateValue.ALARM, "Threshold Crossed: ...", '{"version":"1.0"}')
    after, item = apply_evaluation("latency", before, evaluation, T0 + 60)
    assert (after.value, after.reason, after.updated_at, after.transitioned_at) == (
        StateValue.ALARM,
        "Threshold Crossed: ...",
        T0 + 60,
        T0 + 60,
    )
    assert item is not None
    assert item.item_type is HistoryItemType.STATE_UPDATE
    assert item.summary == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert json.loads(item.data) == {
        "version": "1.0",
        "oldState": {
            "stateValue": "INSUFFICIENT_DATA",
            "stateReason": "Unchecked: Initial alarm creation",
        },
        "newState": {
            "stateValue": "ALARM",
            "stateReason": "Threshold Crossed: ...",
            "stateReasonData": {"version": "1.0"},
        },
    }
    assert item.to_api()["HistoryItemType"] == "StateUpdate"


def test_the_same_state_value_changes_nothing() -> None:
    before = AlarmState(StateValue.OK, "first reason", None, T0, T0)
    after, item = apply_evaluation(
        "latency", before, Evaluation(StateValue.OK, "other reason", None), T0 + 60
    )
    assert after is before and item is None
    kept, item = apply_evaluation(
        "latency", before, Evaluation(StateValue.ALARM, "x", None, retained=True), T0 + 60
    )
    assert kept is before and item is None


def test_set_alarm_state_holds_for_one_period() -> None:
    before = AlarmState(StateValue.OK, "fine", None, T0, T0)
    forced, item = force_state(ALARM_DEF, before, StateValue.ALARM, "testing", '{"a": 1}', T0 + 5)
    assert forced.value is StateValue.ALARM and forced.forced_until == T0 + 65
    assert item is not None and item.summary == "Alarm updated from OK to ALARM"
    assert is_held(forced, T0 + 64.9)
    assert not is_held(forced, T0 + 65)
    # The evaluation after the hold decides; it releases the hold either way.
    after, item = apply_evaluation(
        "latency", forced, Evaluation(StateValue.OK, "fine again", None), T0 + 65
    )
    assert after.value is StateValue.OK and after.forced_until is None
    assert item is not None and item.summary == "Alarm updated from ALARM to OK"
    agreed, item = apply_evaluation(
        "latency", forced, Evaluation(StateValue.ALARM, "bad", None), T0 + 65
    )
    assert agreed.value is StateValue.ALARM and agreed.reason == "testing"
    assert agreed.forced_until is None and item is None


def test_set_alarm_state_to_the_same_value_updates_without_a_transition() -> None:
    before = AlarmState(StateValue.OK, "fine", None, T0, T0)
    forced, item = force_state(ALARM_DEF, before, StateValue.OK, "still fine", None, T0 + 5)
    assert item is None
    assert (forced.updated_at, forced.transitioned_at, forced.reason) == (
        T0 + 5,
        T0,
        "still fine",
    )


def test_set_alarm_state_needs_json_reason_data() -> None:
    with pytest.raises(InvalidFormat) as caught:
        force_state(ALARM_DEF, AlarmState.initial(T0), StateValue.ALARM, "x", "{nope", T0)
    assert caught.value.code == "InvalidFormat"


@pytest.mark.parametrize(
    ("change", "summary", "member"),
    [
        (ConfigurationChange.CREATE, 'Alarm "latency" created', "createdAlarm"),
        (ConfigurationChange.UPDATE, 'Alarm "latency" updated', "updatedAlarm"),
        (ConfigurationChange.DELETE, 'Alarm "latency" deleted', "deletedAlarm"),
    ],
)
def test_configuration_history(change: ConfigurationChange, summary: str, member: str) -> None:
    item = configuration_item(ALARM_DEF, change, T0, previous=ALARM_DEF)
    assert item.item_type is HistoryItemType.CONFIGURATION_UPDATE
    assert item.summary == summary
    data = json.loads(item.data)
    assert data["type"] == change.value
    assert data[member]["AlarmName"] == "latency"
