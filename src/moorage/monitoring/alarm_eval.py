"""Evaluating a metric alarm: M out of N, missing data, CloudWatch's reasons.

:func:`evaluate` reads the alarm's datapoints from the store (directly, or
through :func:`~moorage.monitoring.metric_data.evaluate_queries` for metric
math) and decides the state, following "Evaluating an alarm" and "How alarm
state is evaluated when data is missing" of CloudWatch's user guide:

- The *evaluation range* is the last ``N + 2`` complete periods (CloudWatch
  fetches "a higher number of data points than Evaluation Periods"; its
  example fetches 5 for N = 3). Windows end on the minute for periods of a
  minute or more, on the period below a minute (:func:`window_end`).
- With at least N datapoints in the range, the N most recent are evaluated
  and missing-data treatment plays no part.
- With fewer, every existing datapoint is evaluated and the
  ``N - existing`` others are filled by ``TreatMissingData``: ``breaching``
  and ``notBreaching`` fill with breaching / good datapoints; ``missing``
  and ``ignore`` fill nothing: ALARM when M existing datapoints breach, OK
  when at least one existing datapoint is good, else INSUFFICIENT_DATA
  (``missing``) or the current state (``ignore``).
- ALARM when at least M (``DatapointsToAlarm``) evaluated datapoints
  breach, else OK.

Reasons and reason data take CloudWatch's form, e.g.
``Threshold Crossed: 2 out of the last 3 datapoints [12.0 (26/11/21
10:02:00), 11.0 (26/11/21 10:00:00)] were greater than the threshold (10.0)
(minimum 2 datapoints for OK -> ALARM transition).``
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from moorage.monitoring.alarm_state import AlarmState, Evaluation
from moorage.monitoring.alarms import AlarmDefinition, StateValue, TreatMissingData
from moorage.monitoring.metric_data import evaluate_queries
from moorage.monitoring.statistics import StatKind
from moorage.monitoring.store import MetricStore
from moorage.monitoring.timegrid import iso_millis, java_double, reason_date, window_end

# Periods fetched beyond EvaluationPeriods.
EXTRA_PERIODS = 2


@dataclass(frozen=True)
class _Datapoint:
    timestamp: int
    value: float
    sample_count: float | None
    breaching: bool


def evaluate(
    definition: AlarmDefinition,
    store: MetricStore,
    now: float,
    previous: AlarmState | None = None,
) -> Evaluation:
    """The state ``definition`` should be in at ``now``, with its reason."""
    current = previous or AlarmState.initial(now)
    period = definition.evaluation_period
    n, m = definition.evaluation_periods, definition.datapoints
    end = window_end(now, period)
    periods = [end - (n + EXTRA_PERIODS - k) * period for k in range(n + EXTRA_PERIODS)]
    found = _fetch(definition, store, periods[0], end, now)
    threshold = definition.threshold if definition.threshold is not None else math.nan
    op = definition.comparison_operator
    existing = [
        _Datapoint(t, found[t][0], found[t][1], op.breaches(found[t][0], threshold))
        for t in periods
        if t in found
    ]
    evaluated = existing[-n:]
    fills = n - len(evaluated)
    treat = definition.treat_missing_data
    filling = fills > 0 and treat in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING)
    # The periods a fill stands for: the most recent missing ones.
    filled_at = [t for t in periods if t not in found][-fills:] if filling else []
    breaching = sum(d.breaching for d in evaluated)
    good = len(evaluated) - breaching
    context = _Context(definition, now, evaluated, existing, filled_at, threshold)

    if _low_sample_count(definition, evaluated):
        return Evaluation(current.value, current.reason, current.reason_data, retained=True)
    if fills and treat is TreatMissingData.BREACHING:
        state = StateValue.ALARM if breaching + fills >= m else StateValue.OK
        return context.threshold_crossed(state, fill_breaching=True)
    if fills and treat is TreatMissingData.NOT_BREACHING:
        state = StateValue.ALARM if breaching >= m else StateValue.OK
        return context.threshold_crossed(state, fill_breaching=False)
    if breaching >= m:
        return context.threshold_crossed(StateValue.ALARM, fill_breaching=None)
    if not fills or good:
        return context.threshold_crossed(StateValue.OK, fill_breaching=None)
    if treat is TreatMissingData.IGNORE:
        return Evaluation(current.value, current.reason, current.reason_data, retained=True)
    return context.insufficient(fills)


def recent_values(definition: AlarmDefinition, store: MetricStore, now: float) -> list[float]:
    """The datapoints an evaluation at ``now`` would evaluate, oldest first.

    At most ``EvaluationPeriods`` values, from the same range as
    :func:`evaluate`'s; what a policy an alarm invokes scales by
    (:mod:`moorage.autoscaling`).
    """
    period = definition.evaluation_period
    n = definition.evaluation_periods
    end = window_end(now, period)
    start = end - (n + EXTRA_PERIODS) * period
    found = _fetch(definition, store, start, end, now)
    return [found[t][0] for t in sorted(found)][-n:]


def _fetch(
    definition: AlarmDefinition, store: MetricStore, start: int, end: int, now: float
) -> dict[int, tuple[float, float | None]]:
    period = definition.evaluation_period
    if not definition.metrics:
        points = store.points(
            definition.metric_key,
            definition.parsed_statistic(),
            start,
            end,
            period,
            definition.unit,
        )
        return {p.timestamp: (p.value, p.sample_count) for p in points}
    returned = definition.returned_query
    if returned is None:
        return {}
    results = evaluate_queries(store, definition.metrics, start, end, now=now)
    found: dict[int, tuple[float, float | None]] = {}
    for result in results:
        if result.id == returned.id:
            for t, v in result.points():
                found[t] = (v, None)
    return found


def _low_sample_count(definition: AlarmDefinition, evaluated: list[_Datapoint]) -> bool:
    """True when a percentile alarm set to ``ignore`` has too few samples.

    CloudWatch's rule: fewer than 10 / (1 - p) samples for p >= 0.5, fewer
    than 10 / p below.
    """
    if definition.evaluate_low_sample_count_percentile != "ignore" or definition.metrics:
        return False
    stat = definition.parsed_statistic()
    if stat.kind is not StatKind.PERCENTILE or stat.upper is None:
        return False
    p = stat.upper / 100.0
    if not 0.0 < p < 1.0:
        return False
    needed = 10.0 / (1.0 - p) if p >= 0.5 else 10.0 / p
    samples = sum(d.sample_count or 0.0 for d in evaluated)
    return samples < needed


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


class _Context:
    """What the reason and reason data of one evaluation are made of."""

    def __init__(
        self,
        definition: AlarmDefinition,
        now: float,
        evaluated: list[_Datapoint],
        existing: list[_Datapoint],
        filled_at: list[int],
        threshold: float,
    ) -> None:
        self.definition = definition
        self.now = now
        self.evaluated = evaluated
        self.existing = existing
        self.filled_at = filled_at
        self.threshold = threshold

    def threshold_crossed(self, state: StateValue, fill_breaching: bool | None) -> Evaluation:
        d = self.definition
        n, m = d.evaluation_periods, d.datapoints
        to_alarm = state is StateValue.ALARM
        crossing = [p for p in reversed(self.evaluated) if p.breaching == to_alarm]
        fills = len(self.filled_at) if fill_breaching is not None else 0
        if crossing:
            listed = ", ".join(
                f"{java_double(p.value)} ({reason_date(p.timestamp)})" for p in crossing
            )
            count = len(crossing)
            head = (
                f"{count} out of the last {n} datapoints" if m < n else _plural(count, "datapoint")
            )
            negation = "" if to_alarm else "not "
            body = (
                f"{head} [{listed}] {_was(count)} {negation}{d.comparison_operator.phrase} "
                f"the threshold ({java_double(self.threshold)})"
            )
        elif self.evaluated:
            received = len(self.evaluated)
            body = f"{_plural(received, 'datapoint')} {_was(received)} received for " + _plural(
                n, "period"
            )
        else:
            body = f"no datapoints were received for {_plural(n, 'period')}"
        if fills:
            kind = "Breaching" if fill_breaching else "NonBreaching"
            body += f" and {_plural(fills, 'missing datapoint')} {_was(fills)} treated as [{kind}]"
        if m < n:
            needed = m if to_alarm else n - m + 1
            transition = "OK -> ALARM" if to_alarm else "ALARM -> OK"
            body += f" (minimum {_plural(needed, 'datapoint')} for {transition} transition)"
        return Evaluation(state, f"Threshold Crossed: {body}.", self.reason_data())

    def insufficient(self, unknown: int) -> Evaluation:
        reason = f"Insufficient Data: {_plural(unknown, 'datapoint')} {_was(unknown)} unknown."
        return Evaluation(StateValue.INSUFFICIENT_DATA, reason, self.reason_data())

    def reason_data(self) -> str:
        d = self.definition
        stamps = [p.timestamp for p in self.evaluated] + self.filled_at
        data: dict[str, Any] = {"version": "1.0", "queryDate": iso_millis(self.now)}
        if stamps:
            data["startDate"] = iso_millis(min(stamps))
        if d.statistic is not None:
            data["statistic"] = d.statistic
        if d.extended_statistic is not None:
            data["extendedStatistic"] = d.extended_statistic
        if d.unit is not None:
            data["unit"] = d.unit
        data["period"] = d.evaluation_period
        data["recentDatapoints"] = [p.value for p in self.existing]
        data["threshold"] = self.threshold
        entries: list[tuple[int, dict[str, Any]]] = []
        for p in self.evaluated:
            entry: dict[str, Any] = {"timestamp": iso_millis(p.timestamp)}
            if p.sample_count is not None:
                entry["sampleCount"] = p.sample_count
            entry["value"] = p.value
            entries.append((p.timestamp, entry))
        entries.extend((t, {"timestamp": iso_millis(t)}) for t in self.filled_at)
        data["evaluatedDatapoints"] = [e for _, e in sorted(entries, key=lambda x: -x[0])]
        return json.dumps(data, separators=(",", ":"))
