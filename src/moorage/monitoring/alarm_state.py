"""Alarm state, history items, and the pure functions that change them.

An alarm's :class:`AlarmState` changes in three ways, each a pure function
returning the new state and the history item to record (None when nothing
worth recording happened):

- :func:`apply_evaluation` — an evaluation
  (:func:`moorage.monitoring.alarm_eval.evaluate`) whose state differs from
  the current one is a transition (``Alarm updated from OK to ALARM``); one
  that agrees changes nothing, so the state keeps the reason of its last
  transition, as CloudWatch's does.
- :func:`force_state` — ``SetAlarmState``. The forced state *holds*:
  ``forced_until`` is one alarm period later, and :func:`is_held` tells the
  evaluator (:mod:`moorage.monitoring.evaluator`) to leave the alarm alone
  until then. CloudWatch re-evaluates "at the next period"; the hold makes
  that explicit, so a forced ``ALARM`` is seen by a rollout watching the
  alarm before an evaluation can turn it back.
- :func:`configuration_item` — ``PutMetricAlarm``/``DeleteAlarms`` history.

Times are epoch seconds; :meth:`AlarmState.to_api` and
:meth:`AlarmHistoryItem.to_api` give datetimes for the wire.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from moorage import json_limits
from moorage.monitoring.alarms import AlarmDefinition, StateValue
from moorage.monitoring.errors import InvalidFormat

INITIAL_REASON = "Unchecked: Initial alarm creation"
# HistoryData is at most 4095 characters in botocore's model.
_MAX_HISTORY_DATA = 4095


class HistoryItemType(StrEnum):
    CONFIGURATION_UPDATE = "ConfigurationUpdate"
    STATE_UPDATE = "StateUpdate"
    ACTION = "Action"


class ConfigurationChange(StrEnum):
    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation concluded.

    ``retained`` is true when the alarm keeps its state whatever it is
    (``TreatMissingData=ignore`` with nothing to evaluate, or a percentile
    alarm ignoring a low sample count).
    """

    state: StateValue
    reason: str
    reason_data: str | None
    retained: bool = False


@dataclass(frozen=True)
class AlarmState:
    """``StateValue``, ``StateReason``, ``StateReasonData`` and their timestamps.

    ``updated_at`` (``StateUpdatedTimestamp``) moves whenever a new state is
    set, ``transitioned_at`` (``StateTransitionedTimestamp``) only when the
    value changes. ``forced_until`` is the end of a ``SetAlarmState`` hold.
    """

    value: StateValue
    reason: str
    reason_data: str | None
    updated_at: float
    transitioned_at: float
    forced_until: float | None = None

    @classmethod
    def initial(cls, now: float) -> AlarmState:
        """A new alarm's state: ``INSUFFICIENT_DATA``, unchecked."""
        return cls(StateValue.INSUFFICIENT_DATA, INITIAL_REASON, None, now, now)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"StateValue": self.value.value, "StateReason": self.reason}
        if self.reason_data is not None:
            out["StateReasonData"] = self.reason_data
        out["StateUpdatedTimestamp"] = _datetime(self.updated_at)
        out["StateTransitionedTimestamp"] = _datetime(self.transitioned_at)
        return out


@dataclass(frozen=True)
class AlarmHistoryItem:
    """One ``AlarmHistoryItem`` (``DescribeAlarmHistory``)."""

    alarm_name: str
    timestamp: float
    item_type: HistoryItemType
    summary: str
    data: str
    alarm_type: str = "MetricAlarm"

    def to_api(self) -> dict[str, Any]:
        return {
            "AlarmName": self.alarm_name,
            "AlarmType": self.alarm_type,
            "Timestamp": _datetime(self.timestamp),
            "HistoryItemType": self.item_type.value,
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        }


def _datetime(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def is_held(state: AlarmState, now: float) -> bool:
    """True while a ``SetAlarmState`` hold keeps evaluations away."""
    return state.forced_until is not None and now < state.forced_until


def apply_evaluation(
    name: str, state: AlarmState, evaluation: Evaluation, now: float
) -> tuple[AlarmState, AlarmHistoryItem | None]:
    """The state after an evaluation, and the history item of a transition."""
    released = replace(state, forced_until=None) if state.forced_until is not None else state
    if evaluation.retained or evaluation.state is state.value:
        return released, None
    new = AlarmState(evaluation.state, evaluation.reason, evaluation.reason_data, now, now)
    return new, state_update_item(name, state, new, now)


def force_state(
    definition: AlarmDefinition,
    state: AlarmState,
    value: StateValue,
    reason: str,
    reason_data: str | None,
    now: float,
) -> tuple[AlarmState, AlarmHistoryItem | None]:
    """``SetAlarmState``: set ``value`` and hold it for one alarm period.

    Raises :class:`InvalidFormat` when ``reason_data`` is not JSON.
    """
    if reason_data:
        try:
            json_limits.loads(reason_data)
        except ValueError:
            raise InvalidFormat("StateReasonData is not a valid JSON document.") from None
    changed = value is not state.value
    new = AlarmState(
        value,
        reason,
        reason_data,
        updated_at=now,
        transitioned_at=now if changed else state.transitioned_at,
        forced_until=now + definition.evaluation_period,
    )
    return new, state_update_item(definition.name, state, new, now) if changed else None


def state_update_item(name: str, old: AlarmState, new: AlarmState, now: float) -> AlarmHistoryItem:
    """``Alarm updated from OK to ALARM``, with both states as ``HistoryData``."""
    old_json, new_json = _state_json(old), _state_json(new)
    data = {"version": "1.0", "oldState": old_json, "newState": new_json}
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > _MAX_HISTORY_DATA:
        # Reason data is what can be long; the states and reasons are kept.
        old_json.pop("stateReasonData", None)
        new_json.pop("stateReasonData", None)
        text = json.dumps(data, separators=(",", ":"))[:_MAX_HISTORY_DATA]
    return AlarmHistoryItem(
        name,
        now,
        HistoryItemType.STATE_UPDATE,
        f"Alarm updated from {old.value.value} to {new.value.value}",
        text,
    )


def _state_json(state: AlarmState) -> dict[str, Any]:
    out: dict[str, Any] = {"stateValue": state.value.value, "stateReason": state.reason}
    if state.reason_data:
        try:
            out["stateReasonData"] = json_limits.loads(state.reason_data)
        except ValueError:
            out["stateReasonData"] = state.reason_data
    return out


def configuration_item(
    definition: AlarmDefinition,
    change: ConfigurationChange,
    now: float,
    previous: AlarmDefinition | None = None,
) -> AlarmHistoryItem:
    """``Alarm "name" created`` / ``updated`` / ``deleted``."""
    data: dict[str, Any] = {"version": "1.0", "type": change.value}
    if change is ConfigurationChange.CREATE:
        data["createdAlarm"] = definition.to_api()
    elif change is ConfigurationChange.UPDATE:
        if previous is not None:
            data["originalUpdatedAlarm"] = previous.to_api()
        data["updatedAlarm"] = definition.to_api()
    else:
        data["deletedAlarm"] = definition.to_api()
    text = json.dumps(data, separators=(",", ":"), default=str)
    if len(text) > _MAX_HISTORY_DATA:
        text = json.dumps({"version": "1.0", "type": change.value}, separators=(",", ":"))
    verb = {"Create": "created", "Update": "updated", "Delete": "deleted"}[change.value]
    return AlarmHistoryItem(
        definition.name,
        now,
        HistoryItemType.CONFIGURATION_UPDATE,
        f'Alarm "{definition.name}" {verb}',
        text,
    )
