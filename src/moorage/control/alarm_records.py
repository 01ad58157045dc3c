"""Metric alarms as store records: the definition, its state, and back.

:mod:`moorage.control.alarms` persists every alarm it accepts so that a
restart puts the same alarms, in the same states, back into the
:class:`~moorage.monitoring.AlarmEvaluator`. A record's ``doc`` holds the
definition in its API form (``AlarmDefinition.to_api``, read back with
``AlarmDefinition.from_request``), the time of the last ``PutMetricAlarm``
and the :class:`~moorage.monitoring.AlarmState`, including the end of a
``SetAlarmState`` hold.

CloudWatch alarm names are case-sensitive, while the store keys records by
lower-cased name; the record's name is therefore the hex form of the alarm
name's UTF-8 bytes (``alarm_key``), which never collides, and the doc keeps
the name itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moorage.arns import Partition
from moorage.monitoring import AlarmDefinition, AlarmState, StateValue
from moorage.store.base import Record

KIND = "cloudwatch-alarm"


def alarm_key(name: str) -> str:
    """The record name of alarm ``name``: lower-casing cannot merge two alarms."""
    return name.encode("utf-8").hex()


def alarm_arn(partition: Partition, name: str) -> str:
    """``arn:aws:cloudwatch:{region}:{account}:alarm:{name}`` (the name keeps its case)."""
    return f"arn:aws:cloudwatch:{partition.region}:{partition.account_id}:alarm:{name}"


@dataclass(frozen=True)
class StoredAlarm:
    """One persisted alarm."""

    definition: AlarmDefinition
    state: AlarmState
    # When PutMetricAlarm last created or changed it (AlarmConfigurationUpdatedTimestamp).
    configured_at: float
    created: float
    arn: str

    @property
    def name(self) -> str:
        return self.definition.name

    def to_record(self) -> Record:
        doc = {
            "definition": self.definition.to_api(),
            "configuredAt": self.configured_at,
            "state": state_to_doc(self.state),
        }
        return Record(KIND, alarm_key(self.name), self.arn, self.created, self.configured_at, doc)

    @classmethod
    def from_record(cls, record: Record) -> StoredAlarm:
        """Raises ``KeyError``/``ValueError``/``TypeError`` for a doc it cannot read."""
        doc = record.doc
        return cls(
            definition=AlarmDefinition.from_request(doc["definition"]),
            state=state_from_doc(doc["state"]),
            configured_at=float(doc["configuredAt"]),
            created=record.created,
            arn=record.arn,
        )


def state_to_doc(state: AlarmState) -> dict[str, Any]:
    return {
        "value": state.value.value,
        "reason": state.reason,
        "reasonData": state.reason_data,
        "updatedAt": state.updated_at,
        "transitionedAt": state.transitioned_at,
        "forcedUntil": state.forced_until,
    }


def state_from_doc(doc: Mapping[str, Any]) -> AlarmState:
    forced = doc.get("forcedUntil")
    return AlarmState(
        value=StateValue(doc["value"]),
        reason=str(doc["reason"]),
        reason_data=doc.get("reasonData"),
        updated_at=float(doc["updatedAt"]),
        transitioned_at=float(doc["transitionedAt"]),
        forced_until=float(forced) if forced is not None else None,
    )
