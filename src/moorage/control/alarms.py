"""PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState, DescribeAlarmHistory.

The :class:`~moorage.monitoring.AlarmEvaluator` holds the alarms and their
states in memory and evaluates them; this service is its durable half.
Every definition it accepts, and every state its alarms take (evaluated or
forced), is written to the store (:mod:`moorage.control.alarm_records`), and
:meth:`AlarmsService.restore` puts them back into the evaluator when the
server starts. History items stay in the evaluator's memory, so
``DescribeAlarmHistory`` starts afresh after a restart.

Handlers take validated params (:mod:`moorage.api.validate`) and return
response dicts; errors are :mod:`moorage.monitoring.errors` types, which carry
CloudWatch's codes. The protocol layer is :mod:`moorage.api.cloudwatch_api`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.control.alarm_records import KIND, StoredAlarm, alarm_arn, alarm_key, state_to_doc
from moorage.control.cloudwatch_tokens import decode_token, encode_token
from moorage.control.context import ControlContext
from moorage.monitoring import (
    AlarmDefinition,
    AlarmEvaluator,
    AlarmHistoryItem,
    AlarmRecord,
    AlarmState,
    HistoryItemType,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricsValidationError,
    MissingParameter,
    StateChange,
    StateValue,
)
from moorage.store.base import StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS = 50
METRIC_ALARM = "MetricAlarm"

# PutMetricAlarm members of newer alarm kinds that the evaluator does not model.
_UNSUPPORTED_MEMBERS = (
    "EvaluationWindow",
    "WarmUpConfiguration",
    "EvaluationCriteria",
    "EvaluationInterval",
    "ActionConfiguration",
)
# PutMetricAlarm members botocore's model leaves optional but a metric alarm needs.
_NEEDED_MEMBERS = ("ComparisonOperator", "EvaluationPeriods")
_HISTORY_TYPES = frozenset(t.value for t in HistoryItemType)


@dataclass(frozen=True)
class _Meta:
    """What the evaluator does not keep: the ARN and the configuration times."""

    arn: str
    created: float
    configured_at: float


class AlarmsService:
    def __init__(self, ctx: ControlContext, evaluator: AlarmEvaluator) -> None:
        self.ctx = ctx
        self.evaluator = evaluator
        self._meta: dict[str, _Meta] = {}
        evaluator.subscribe(self._on_change)

    # -- start-up and persistence ---------------------------------------------------

    def restore(self) -> int:
        """Load every persisted alarm into the evaluator; returns how many."""
        loaded = 0
        for record in self.ctx.store.list_records(KIND):
            try:
                stored = StoredAlarm.from_record(record)
            except Exception:
                # One unreadable record must not keep the server from starting.
                log.exception("cannot restore alarm record %s", record.name)
                continue
            self.evaluator.load(stored.definition, stored.state)
            self._meta[stored.name] = _Meta(stored.arn, stored.created, stored.configured_at)
            loaded += 1
        return loaded

    def _on_change(self, change: StateChange) -> None:
        # Subscribed first, so a transition is on disk before any later
        # subscriber (a rollout) hears of it.
        # Once the store cannot save (it logged why, once), the state lives on in memory.
        with contextlib.suppress(StoreUnavailable):
            self._save_state(change.alarm_name, change.current)

    def _save_state(self, name: str, state: AlarmState) -> None:
        store = self.ctx.store
        record = store.get(KIND, alarm_key(name))
        if record is None:
            return
        doc = {**record.doc, "state": state_to_doc(state)}
        store.put(record.with_doc(doc, record.modified))

    # -- PutMetricAlarm ------------------------------------------------------------

    def put_metric_alarm(self, params: dict[str, Any]) -> dict[str, Any]:
        for member in _UNSUPPORTED_MEMBERS:
            if member in params:
                raise InvalidParameterValue(
                    f"The parameter {member} is not supported by moorage: it evaluates metric "
                    "alarms by Period, EvaluationPeriods and DatapointsToAlarm."
                )
        for member in _NEEDED_MEMBERS:
            if params.get(member) is None:
                raise MissingParameter(f"The parameter {member} must be specified.")
        definition = AlarmDefinition.from_request(params)
        name = definition.name
        previous = self.evaluator.get(name)
        self.evaluator.put_alarm(definition)
        now = self.ctx.now()
        meta = self._meta.get(name)
        arn = alarm_arn(self.ctx.partition, name)
        created = meta.created if meta is not None else now
        current = self.evaluator.get(name)
        assert current is not None
        stored = StoredAlarm(definition, current.state, now, created, arn)
        # Tags are set when an alarm is created; CloudWatch ignores them on updates.
        tags = [(t["Key"], t["Value"]) for t in params.get("Tags", ())] if previous is None else []
        try:
            with self.ctx.store.transaction():
                self.ctx.store.put(stored.to_record())
                if tags:
                    self.ctx.store.set_tags(arn, tags)
        except Exception:
            # Memory never keeps an alarm the store does not have.
            self._undo(name, previous)
            raise
        self._meta[name] = _Meta(arn, created, now)
        return {}

    def _undo(self, name: str, previous: AlarmRecord | None) -> None:
        if previous is None:
            self.evaluator.delete_alarms([name])
        else:
            self.evaluator.load(previous.definition, previous.state)

    # -- DeleteAlarms --------------------------------------------------------------

    def delete_alarms(self, params: dict[str, Any]) -> dict[str, Any]:
        names: list[str] = params["AlarmNames"]
        with self.ctx.store.transaction():
            for name in names:
                if self.ctx.store.delete(KIND, alarm_key(name)):
                    self.ctx.store.drop_tags(alarm_arn(self.ctx.partition, name))
        # Unknown names are ignored: "the alarms you specify with correct names are still deleted".
        self.evaluator.delete_alarms(names)
        for name in names:
            self._meta.pop(name, None)
        return {}

    # -- SetAlarmState -------------------------------------------------------------

    def set_alarm_state(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["AlarmName"]
        value = StateValue(params["StateValue"])
        before = self.evaluator.get(name)
        state = self.evaluator.set_alarm_state(
            name, value, params["StateReason"], params.get("StateReasonData")
        )
        if before is not None and before.state.value is value:
            # Same value: no transition was announced (and saved), but the
            # reason and the hold changed.
            self._save_state(name, state)
        return {}

    # -- DescribeAlarms ------------------------------------------------------------

    def describe_alarms(self, params: dict[str, Any]) -> dict[str, Any]:
        types = params.get("AlarmTypes") or [METRIC_ALARM]
        related = [p for p in ("ChildrenOfAlarmName", "ParentsOfAlarmName") if p in params]
        if related:
            others = set(params) - {*related, "MaxRecords", "NextToken"}
            if len(related) > 1 or others:
                raise MetricsValidationError(
                    f"{related[0]} cannot be combined with any parameter but MaxRecords and "
                    "NextToken."
                )
            # Only composite alarms have children or parents; moorage has none.
            return {"MetricAlarms": [], "CompositeAlarms": []}
        names = params.get("AlarmNames")
        prefix = params.get("AlarmNamePrefix")
        if names and prefix is not None:
            raise InvalidParameterCombination(
                "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you "
                "have specified both."
            )
        alarms = [
            record
            for record in self.evaluator.alarms()
            if _selected(record, params, set(names) if names else None)
        ]
        if METRIC_ALARM not in types:
            alarms = []
        after = (
            decode_token("DescribeAlarms", params["NextToken"]) if "NextToken" in params else None
        )
        if after is not None:
            if not isinstance(after, str):
                raise InvalidNextToken("The service cannot decode the NextToken.")
            alarms = [a for a in alarms if a.definition.name > after]
        limit = params.get("MaxRecords") or DEFAULT_MAX_RECORDS
        chunk = alarms[:limit]
        out: dict[str, Any] = {
            "MetricAlarms": [self._metric_alarm(record) for record in chunk],
            "CompositeAlarms": [],
        }
        if "LogAlarm" in types:
            out["LogAlarms"] = []
        if len(alarms) > limit:
            out["NextToken"] = encode_token("DescribeAlarms", chunk[-1].definition.name)
        return out

    def _metric_alarm(self, record: AlarmRecord) -> dict[str, Any]:
        name = record.definition.name
        meta = self._meta.get(name)
        out = record.definition.to_api()
        out["AlarmArn"] = meta.arn if meta else alarm_arn(self.ctx.partition, name)
        if meta is not None:
            out["AlarmConfigurationUpdatedTimestamp"] = meta.configured_at
        out.update(record.state.to_api())
        return out

    # -- DescribeAlarmHistory ------------------------------------------------------

    def describe_alarm_history(self, params: dict[str, Any]) -> dict[str, Any]:
        types = params.get("AlarmTypes")
        item_type = params.get("HistoryItemType")
        if (
            (types and METRIC_ALARM not in types)
            or "AlarmContributorId" in params
            or (item_type is not None and item_type not in _HISTORY_TYPES)
        ):
            # Composite alarms, log alarms and contributors: moorage has none.
            return {"AlarmHistoryItems": []}
        ascending = params.get("ScanBy") == "TimestampAscending"
        items = self.evaluator.history(
            params.get("AlarmName"),
            HistoryItemType(item_type) if item_type is not None else None,
            params.get("StartDate"),
            params.get("EndDate"),
            ascending=ascending,
        )
        token = params.get("NextToken")
        skipped = 0
        at: float | None = None
        if token is not None:
            at, skipped = _history_position(decode_token("DescribeAlarmHistory", token))
            items = _after(items, at, skipped, ascending)
        limit = params.get("MaxRecords") or DEFAULT_MAX_RECORDS
        chunk = items[:limit]
        out: dict[str, Any] = {"AlarmHistoryItems": [item.to_api() for item in chunk]}
        if len(items) > limit:
            last = chunk[-1].timestamp
            same = sum(1 for item in chunk if item.timestamp == last)
            out["NextToken"] = encode_token(
                "DescribeAlarmHistory", [last, same + (skipped if at == last else 0)]
            )
        return out


def _selected(record: AlarmRecord, params: Mapping[str, Any], names: set[str] | None) -> bool:
    definition = record.definition
    if names is not None and definition.name not in names:
        return False
    prefix = params.get("AlarmNamePrefix")
    if prefix is not None and not definition.name.startswith(prefix):
        return False
    state = params.get("StateValue")
    if state is not None and record.state.value.value != state:
        return False
    action_prefix = params.get("ActionPrefix")
    if action_prefix is not None:
        actions = (
            *definition.ok_actions,
            *definition.alarm_actions,
            *definition.insufficient_data_actions,
        )
        return any(action.startswith(action_prefix) for action in actions)
    return True


def _history_position(position: Any) -> tuple[float, int]:
    valid = (
        isinstance(position, list)
        and len(position) == 2
        and isinstance(position[0], (int, float))
        and isinstance(position[1], int)
    )
    if not valid:
        raise InvalidNextToken("The service cannot decode the NextToken.")
    return float(position[0]), int(position[1])


def _after(
    items: Sequence[AlarmHistoryItem], at: float, skipped: int, ascending: bool
) -> list[AlarmHistoryItem]:
    """The items after a page that ended with ``skipped`` items stamped ``at``."""
    out: list[AlarmHistoryItem] = []
    seen = 0
    for item in items:
        done = item.timestamp < at if ascending else item.timestamp > at
        if done:
            continue
        if item.timestamp == at and seen < skipped:
            seen += 1
            continue
        out.append(item)
    return out
