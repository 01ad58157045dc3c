"""An alarm whose evaluation fails: retried every tick, logged once per distinct failure."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import (
    AlarmDefinition,
    AlarmEvaluator,
    ComparisonOperator,
    MetricStore,
    StateValue,
)
from moorage.monitoring.alarm_state import AlarmState
from moorage.monitoring.metric_data import MetricDataQuery

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
METRIC = {
    "Id": "m1",
    "MetricStat": {
        "Metric": {"Namespace": "App", "MetricName": "Errors"},
        "Period": 60,
        "Stat": "Sum",
    },
    "ReturnData": False,
}


def _math_alarm(expression: str) -> AlarmDefinition:
    return AlarmDefinition(
        "math",
        ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        threshold=1.0,
        metrics=(
            MetricDataQuery.from_api(METRIC),
            MetricDataQuery.from_api({"Id": "e1", "Expression": expression}),
        ),
    )


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "evaluating alarm math failed" in r.getMessage()]


def test_a_failing_alarm_is_logged_once_per_failure_and_once_when_it_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(T0)
    evaluator = AlarmEvaluator(clock, MetricStore(clock))
    # Persisted before the nesting limit existed: loaded as it was, unvalidated.
    broken = _math_alarm("(" * 40 + "m1" + ")" * 40)
    evaluator.load(broken, AlarmState.initial(T0))
    caplog.set_level(logging.INFO, logger="moorage.monitoring.evaluator")

    for _ in range(120):  # two minutes of one-second ticks, each retrying the alarm
        evaluator.evaluate_all()
        clock.advance(1.0)
    [first] = _failures(caplog)
    assert first.levelno == logging.ERROR and first.exc_info is not None
    assert "nests more than 32 levels" in str(first.exc_info[1])

    # Fixed by PutMetricAlarm: evaluated again, and said so once.
    evaluator.put_alarm(_math_alarm("m1 * 2"))
    for _ in range(5):
        evaluator.evaluate_all(force=True)
        clock.advance(1.0)
    works = [r for r in caplog.records if "evaluating alarm math works again" in r.getMessage()]
    assert len(works) == 1 and works[0].levelno == logging.INFO
    assert len(_failures(caplog)) == 1
    record = evaluator.get("math")
    assert record is not None and record.state.value is not StateValue.ALARM
