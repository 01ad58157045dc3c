"""A deployment as a timeline: its steps, bakes, alarms and rollback, with the traffic split.

Built from a :class:`~moorage.dashboard.deploy_history.Record` (the newest
deployment document seen and the times each step was reached). Each forward
step is ``done``, ``current``, ``pending``, ``failed`` (the step during which
the rollback began) or ``skipped`` (never reached because of the rollback);
rollback steps are ``done``, ``current`` or ``pending`` (``failed`` when the
rollback failed). Every step lists, per variant, the old and new fleets'
instances (in service of running) and the share of traffic on the new
fleet, as ``moorage plan`` prints them. The rollback alarms come with their
state now and their transitions while the deployment ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moorage.dashboard.deploy_history import Mark, Outcome, Record
from moorage.dashboard.views.sources import finite
from moorage.deploy.deployment import Deployment
from moorage.deploy.rollout import Phase, Rollout
from moorage.deploy.timeline import Step
from moorage.monitoring import AlarmEvaluator
from moorage.monitoring.alarm_state import HistoryItemType

# State transitions of one alarm listed in a timeline at most.
MAX_ALARM_CHANGES = 20


def policy_name(config: Any, kind: str) -> str:
    """``Canary``, ``Linear``, ``AllAtOnce``, ``Rolling``, or what the rollout is."""
    if kind == "capacity":
        return "WeightsAndCapacities"
    if not isinstance(config, dict):
        return "AllAtOnce" if kind == "update" else kind
    if "RollingUpdatePolicy" in config:
        return "Rolling"
    routing = config.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration", {})
    kinds = {"CANARY": "Canary", "LINEAR": "Linear", "ALL_AT_ONCE": "AllAtOnce"}
    return kinds.get(str(routing.get("Type")), "AllAtOnce")


def _step(step: Step, state: str, started: float | None) -> dict[str, Any]:
    return {
        "name": step.name,
        "state": state,
        "waitSeconds": finite(step.wait_s),
        "bake": step.monitor,
        "status": step.status,
        "started": started,
        "layouts": [
            {
                "variant": variant,
                "oldInstances": layout.blue_target,
                "oldInService": layout.blue_active,
                "newInstances": layout.green_target,
                "newInService": layout.green_active,
                "newTrafficPercent": finite(100 * layout.green_share, 2),
            }
            for variant, layout in step.layouts.items()
        ],
    }


def _first_seen(marks: Sequence[Mark], rolling_back: bool, index: int) -> float | None:
    return next((m.at for m in marks if m.rolling_back == rolling_back and m.step == index), None)


def _forward_state(rollout: Rollout, outcome: Outcome, index: int) -> str:
    if outcome is Outcome.COMPLETED:
        return "done"
    if rollout.rolling_back:
        if index < rollout.failed_at:
            return "done"
        return "failed" if index == rollout.failed_at else "skipped"
    if index < rollout.step:
        return "done"
    return "current" if index == rollout.step else "pending"


def _rollback_state(rollout: Rollout, outcome: Outcome, index: int) -> str:
    if outcome is Outcome.ROLLED_BACK:
        return "done"
    if index < rollout.step:
        return "done"
    if index == rollout.step:
        return "failed" if outcome is Outcome.ROLLBACK_FAILED else "current"
    return "pending"


def _alarms(
    alarms: AlarmEvaluator, names: Sequence[str], start: float, end: float | None
) -> list[Any]:
    out = []
    for name in names:
        record = alarms.get(name)
        changes = alarms.history(name, HistoryItemType.STATE_UPDATE, start, end, ascending=True)
        out.append(
            {
                "name": name,
                "state": record.state.value.value if record is not None else None,
                "reason": record.state.reason if record is not None else None,
                "changes": [
                    {"at": item.timestamp, "summary": item.summary}
                    for item in changes[-MAX_ALARM_CHANGES:]
                ],
            }
        )
    return out


def timeline(record: Record, alarms: AlarmEvaluator) -> dict[str, Any]:
    deployment = Deployment.from_doc(record.deployment)
    rollout = deployment.rollout
    outcome = record.outcome
    marks = record.marks
    steps = [
        _step(s, _forward_state(rollout, outcome, i), _first_seen(marks, False, i))
        for i, s in enumerate(rollout.steps)
    ]
    rollback = [
        _step(s, _rollback_state(rollout, outcome, i), _first_seen(marks, True, i))
        for i, s in enumerate(rollout.rollback)
    ]
    current = None
    if outcome is Outcome.IN_PROGRESS:
        step = rollout.current
        waiting = rollout.phase is Phase.WAITING
        current = {
            "rollingBack": rollout.rolling_back,
            "step": rollout.step,
            "phase": rollout.phase.value,
            "since": rollout.since,
            "waitEnds": rollout.since + step.wait_s if waiting and step.wait_s else None,
            "baking": waiting and step.monitor and step.wait_s > 0,
        }
    return {
        "kind": rollout.kind,
        "policy": policy_name(deployment.deployment_config, rollout.kind),
        "oldConfig": deployment.old_config,
        "newConfig": deployment.new_config,
        "started": rollout.started,
        "deadline": rollout.deadline,
        "finished": record.finished,
        "outcome": outcome.value,
        "reason": record.reason or rollout.reason,
        "failedAt": rollout.failed_at if rollout.rolling_back else None,
        "current": current,
        "steps": steps,
        "rollback": rollback,
        "alarms": _alarms(alarms, rollout.alarms, rollout.started, record.finished),
    }


def summary(record: Record) -> dict[str, Any]:
    """An earlier deployment in one line."""
    rollout = record.deployment.get("rollout", {})
    return {
        "kind": rollout.get("kind"),
        "newConfig": record.deployment.get("new_config"),
        "started": rollout.get("started"),
        "finished": record.finished,
        "outcome": record.outcome.value,
        "reason": record.reason,
    }
