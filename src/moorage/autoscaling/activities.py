"""Scaling activities: what Application Auto Scaling did, and why, in AWS's words.

Every capacity change is an activity, written to the store (kind
``scaling-activity``, named by its id) *before* the change is asked of the
resource, so an acknowledged change is never lost from the record:

| Status | When |
|---|---|
| ``InProgress`` | the change was asked of the endpoint or inference component |
| ``Successful`` | the resource reached the capacity |
| ``Failed`` | the resource refused the change, or failed |
| ``Overridden`` | a newer activity changed the same target's capacity first |

Texts follow AWS's: description ``Setting desired instance count to 2.``,
cause ``monitor alarm NAME in state ALARM triggered policy POLICY``,
``scheduled action name NAME was triggered``, ``minimum capacity was set to
2``; status message ``Successfully set desired instance count to 2. Change
successfully fulfilled by sagemaker.``.

*Not scaled* activities (``IncludeNotScaledActivities``: a policy wanted to
scale but the target is at its maximum, ...) are kept in memory only, the
latest :data:`MAX_NOT_SCALED` per target. Activities are kept six weeks and
at most :data:`MAX_PER_TARGET` per target.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from moorage.autoscaling.decision import NotScaledCode
from moorage.autoscaling.resources import NAMESPACE, ResourceRef, parse_target
from moorage.console import event
from moorage.store.base import Record, Store

KIND = "scaling-activity"
RETENTION_SECONDS = 42 * 86_400
MAX_PER_TARGET = 1000
MAX_NOT_SCALED = 100


class ActivityStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    OVERRIDDEN = "Overridden"
    UNFULFILLED = "Unfulfilled"
    FAILED = "Failed"

    @property
    def done(self) -> bool:
        return self not in (ActivityStatus.PENDING, ActivityStatus.IN_PROGRESS)


@dataclass(frozen=True)
class NotScaled:
    code: NotScaledCode
    minimum: int | None = None
    maximum: int | None = None
    current: int | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Code": self.code.value}
        for member, value in (
            ("MaxCapacity", self.maximum),
            ("MinCapacity", self.minimum),
            ("CurrentCapacity", self.current),
        ):
            if value is not None:
                out[member] = value
        return out


@dataclass(frozen=True)
class Activity:
    id: str
    ref: ResourceRef
    description: str
    cause: str
    start: float
    status: ActivityStatus
    end: float | None = None
    message: str | None = None
    # The capacity the activity sets (None for a change of minimum and maximum).
    capacity: int | None = None
    not_scaled: tuple[NotScaled, ...] = ()

    def finished(self, status: ActivityStatus, message: str, now: float) -> Activity:
        return replace(self, status=status, message=message, end=now)

    def to_wire(self) -> dict[str, Any]:
        return {
            "ActivityId": self.id,
            "ServiceNamespace": NAMESPACE,
            "ResourceId": self.ref.resource_id,
            "ScalableDimension": self.ref.dimension.value,
            "Description": self.description,
            "Cause": self.cause,
            "StartTime": self.start,
            "EndTime": self.end,
            "StatusCode": self.status.value,
            "StatusMessage": self.message,
            "NotScaledReasons": [n.to_api() for n in self.not_scaled] or None,
        }

    def to_record(self) -> Record:
        doc = {
            "resourceId": self.ref.resource_id,
            "dimension": self.ref.dimension.value,
            "description": self.description,
            "cause": self.cause,
            "status": self.status.value,
            "end": self.end,
            "message": self.message,
            "capacity": self.capacity,
        }
        return Record(KIND, self.id, self.id, self.start, self.end or self.start, doc)

    @classmethod
    def from_record(cls, record: Record) -> Activity:
        doc: Mapping[str, Any] = record.doc
        end, capacity = doc.get("end"), doc.get("capacity")
        return cls(
            id=record.name,
            ref=parse_target(NAMESPACE, str(doc["resourceId"]), str(doc["dimension"])),
            description=str(doc["description"]),
            cause=str(doc["cause"]),
            start=record.created,
            status=ActivityStatus(doc["status"]),
            end=float(end) if end is not None else None,
            message=doc.get("message"),
            capacity=int(capacity) if capacity is not None else None,
        )


# -- texts ---------------------------------------------------------------------------


def setting(ref: ResourceRef, capacity: int) -> str:
    return f"Setting {ref.dimension.what} to {capacity}."


def succeeded(ref: ResourceRef, capacity: int) -> str:
    return (
        f"Successfully set {ref.dimension.what} to {capacity}. Change successfully fulfilled "
        f"by {NAMESPACE}."
    )


def failed(ref: ResourceRef, capacity: int, reason: str) -> str:
    return f"Failed to set {ref.dimension.what} to {capacity}. Reason: {reason}"


def alarm_cause(alarm: str, policy: str, state: str = "ALARM") -> str:
    return f"monitor alarm {alarm} in state {state} triggered policy {policy}"


def scheduled_cause(name: str) -> str:
    return f"scheduled action name {name} was triggered"


def arrival_cause(ref: ResourceRef) -> str:
    """Why a target at 0 was scaled out when an invocation arrived (moorage's hold)."""
    return f"an invocation arrived for {ref.resource_id} while its capacity was 0"


def bounds_text(minimum: int | None, maximum: int | None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"min capacity to {minimum}")
    if maximum is not None:
        parts.append(f"max capacity to {maximum}")
    return " and ".join(parts)


def range_cause(minimum: int, maximum: int, current: int) -> str:
    if current < minimum:
        return f"minimum capacity was set to {minimum}"
    return f"maximum capacity was set to {maximum}"


# -- the log -------------------------------------------------------------------------


class ActivityLog:
    """Activities in the store, and the latest not-scaled ones in memory."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._not_scaled: dict[str, deque[Activity]] = {}
        # Start times are unique (to the millisecond of the wire), so that
        # "newest first" orders the activities of one instant as they happened.
        self._last_start = 0.0

    def begin(
        self,
        ref: ResourceRef,
        description: str,
        cause: str,
        now: float,
        *,
        capacity: int | None = None,
        status: ActivityStatus = ActivityStatus.IN_PROGRESS,
        message: str | None = None,
    ) -> Activity:
        """Record a new activity (written before anything is changed)."""
        start = self._stamp(now)
        end = start if status.done else None
        activity = Activity(
            str(uuid.uuid4()), ref, description, cause, start, status, end, message, capacity
        )
        self.store.put(activity.to_record())
        event(f"scaling {ref.resource_id}: {description} ({cause}): {status.value}")
        return activity

    def _stamp(self, now: float) -> float:
        start = max(round(now, 3), round(self._last_start + 0.001, 3))
        self._last_start = start
        return start

    def save(self, activity: Activity) -> None:
        self.store.put(activity.to_record())
        if activity.status.done:
            said = f": {activity.message}" if activity.message else ""
            event(f"scaling {activity.ref.resource_id}: {activity.status.value}{said}")

    def not_scaled(self, ref: ResourceRef, cause: str, reason: NotScaled, now: float) -> Activity:
        activity = Activity(
            str(uuid.uuid4()),
            ref,
            "Attempting to scale due to alarm triggered",
            cause,
            round(now, 3),
            ActivityStatus.FAILED,
            end=round(now, 3),
            not_scaled=(reason,),
        )
        found = self._not_scaled.get(ref.key)
        if found is None:
            found = self._not_scaled[ref.key] = deque(maxlen=MAX_NOT_SCALED)
        found.append(activity)
        return activity

    def all(self, *, include_not_scaled: bool = False) -> list[Activity]:
        """Every activity, newest first."""
        found = [Activity.from_record(r) for r in self.store.list_records(KIND)]
        if include_not_scaled:
            found.extend(a for items in self._not_scaled.values() for a in items)
        found.sort(key=lambda a: (a.start, a.id), reverse=True)
        return found

    def unfinished(self) -> list[Activity]:
        return [a for a in self.all() if not a.status.done]

    def prune(self, now: float) -> int:
        """Drop activities older than six weeks, and beyond the newest per target."""
        kept: dict[str, int] = {}
        dropped = 0
        with self.store.transaction():
            for activity in self.all():
                kept[activity.ref.key] = kept.get(activity.ref.key, 0) + 1
                too_old = activity.status.done and activity.start < now - RETENTION_SECONDS
                if too_old or kept[activity.ref.key] > MAX_PER_TARGET:
                    self.store.delete(KIND, activity.id)
                    dropped += 1
        return dropped

    def forget_target(self, ref: ResourceRef) -> None:
        """A deregistered target's not-scaled activities go (its others stay, as on AWS)."""
        self._not_scaled.pop(ref.key, None)
