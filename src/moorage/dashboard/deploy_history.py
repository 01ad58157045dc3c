"""What the dashboard remembers of endpoint deployments: steps reached, when, and how it ended.

An endpoint's ``deployment`` document (:mod:`moorage.deploy.deployment`)
holds the rollout under way and is dropped when it ends, and it says when
the current phase began but not when earlier steps did. :class:`DeploymentHistory`
is a reconciler hook, run after the rollout driver on every endpoint each
pass: while an endpoint has a deployment it keeps the newest document and
stamps each (step, phase) the first time it is seen; when the document is
gone it records the outcome (completed, rolled back, rollback failed) and
the failure reason. The dashboard's timeline (:mod:`moorage.dashboard.views.timeline`)
reads it.

It is memory only: after a restart the history starts from what is under way
then (a resumed deployment's earlier steps have no times). Per endpoint the
latest :data:`PER_ENDPOINT` deployments are kept, for at most
:data:`MAX_ENDPOINTS` endpoints (the least recently changed go first).
A pass over an endpoint without a deployment costs one dict lookup.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.clock import Clock
from moorage.deploy.reconciler import FleetView
from moorage.domain.endpoint import Endpoint, EndpointStatus

PER_ENDPOINT = 5
MAX_ENDPOINTS = 1024


class Outcome(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    ROLLED_BACK = "RolledBack"
    ROLLBACK_FAILED = "RollbackFailed"


@dataclass(frozen=True)
class Mark:
    """The rollout was first seen at ``step`` in ``phase`` at ``at``."""

    rolling_back: bool
    step: int
    phase: str
    at: float


@dataclass(frozen=True)
class Record:
    """One deployment of one endpoint, as far as it was seen."""

    deployment: Mapping[str, Any]  # the newest deployment document seen
    first_seen: float
    marks: tuple[Mark, ...] = ()
    outcome: Outcome = Outcome.IN_PROGRESS
    finished: float | None = None
    reason: str | None = None


@dataclass
class _Endpoint:
    records: list[Record] = field(default_factory=list)


def _position(doc: Mapping[str, Any]) -> tuple[bool, int, str]:
    rollout = doc.get("rollout", {})
    return bool(rollout.get("rolling_back")), int(rollout.get("step", 0)), str(rollout.get("phase"))


class DeploymentHistory:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        # (lower-cased name, creation time) → that endpoint's deployments, oldest first.
        self._endpoints: OrderedDict[tuple[str, float], _Endpoint] = OrderedDict()

    def hook(self, endpoint: Endpoint, fleet: FleetView) -> Endpoint:
        key = (endpoint.name.lower(), endpoint.created)
        doc = endpoint.deployment
        if doc is None:
            found = self._endpoints.get(key)
            if found is not None and found.records and found.records[-1].finished is None:
                found.records[-1] = self._finished(found.records[-1], endpoint)
            return endpoint
        found = self._endpoints.get(key)
        if found is None:
            while len(self._endpoints) >= MAX_ENDPOINTS:
                self._endpoints.popitem(last=False)
            found = self._endpoints[key] = _Endpoint()
        self._endpoints.move_to_end(key)
        now = self.clock.now()
        rollout = doc.get("rollout", {})
        current = found.records[-1] if found.records else None
        if (
            current is None
            or current.finished is not None
            or (current.deployment.get("rollout", {}).get("started") != rollout.get("started"))
        ):
            if current is not None and current.finished is None:
                found.records[-1] = self._finished(current, endpoint)
            current = Record(doc, now)
            found.records.append(current)
            del found.records[:-PER_ENDPOINT]
        rolling_back, step, phase = _position(doc)
        marks = current.marks
        if not marks or (marks[-1].rolling_back, marks[-1].step, marks[-1].phase) != (
            rolling_back,
            step,
            phase,
        ):
            marks = (*marks, Mark(rolling_back, step, phase, now))
        found.records[-1] = replace(current, deployment=doc, marks=marks)
        return endpoint

    def _finished(self, record: Record, endpoint: Endpoint) -> Record:
        rolling_back, _, _ = _position(record.deployment)
        if endpoint.status is EndpointStatus.UPDATE_ROLLBACK_FAILED:
            outcome = Outcome.ROLLBACK_FAILED
        elif rolling_back:
            outcome = Outcome.ROLLED_BACK
        else:
            outcome = Outcome.COMPLETED
        reason = endpoint.failure_reason if outcome is not Outcome.COMPLETED else None
        return replace(record, outcome=outcome, finished=self.clock.now(), reason=reason)

    def of(self, endpoint: Endpoint) -> list[Record]:
        """The endpoint's deployments seen since the server started, newest first."""
        found = self._endpoints.get((endpoint.name.lower(), endpoint.created))
        return list(reversed(found.records)) if found is not None else []
