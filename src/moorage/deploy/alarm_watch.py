"""Rollback alarms for rollouts, read from the CloudWatch alarm evaluator."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from moorage.deploy.driver import AlarmCheck
from moorage.monitoring import AlarmEvaluator, StateValue


def alarm_check(evaluator: AlarmEvaluator) -> AlarmCheck:
    """names → the first of them in ALARM (an unknown alarm never is)."""

    def check(names: Sequence[str]) -> str | None:
        for name in names:
            record = evaluator.get(name)
            if record is not None and record.state.value is StateValue.ALARM:
                return name
        return None

    return check


def wake_on_transitions(evaluator: AlarmEvaluator, wake: Callable[[], None]) -> Callable[[], None]:
    """Run a reconcile pass as soon as any alarm changes state; returns the unsubscriber."""
    return evaluator.subscribe(lambda change: wake())
