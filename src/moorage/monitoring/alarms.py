"""Metric alarms: the typed ``PutMetricAlarm`` definition and its validation.

``control/`` builds an :class:`AlarmDefinition` from a validated request
(:meth:`AlarmDefinition.from_request`), calls :meth:`AlarmDefinition.validate`
and persists it; :mod:`moorage.monitoring.alarm_eval` evaluates it and
:mod:`moorage.monitoring.alarm_state` holds its state and history.
:meth:`AlarmDefinition.to_api` gives back the configuration members of
``DescribeAlarms``' ``MetricAlarm``.

Validation follows ``PutMetricAlarm``'s documentation: a single-metric alarm
or a ``Metrics`` (metric math) alarm, not both; ``Statistic`` xor
``ExtendedStatistic``; ``DatapointsToAlarm <= EvaluationPeriods``;
``Period * EvaluationPeriods`` at most one day (seven days for periods of an
hour or more). moorage accepts every GetMetricData period (1, 5, 10, 20, 30
or a multiple of 60) where AWS accepts 10, 20, 30 or a multiple of 60, so a
test can bake for a few seconds. Anomaly detection bands are not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from moorage.monitoring.errors import (
    InvalidParameterCombination,
    MetricsValidationError,
    MissingParameter,
    MonitoringError,
)
from moorage.monitoring.keys import Dimension, MetricKey
from moorage.monitoring.metric_data import MetricDataQuery, validate_queries
from moorage.monitoring.statistics import STANDARD_STATISTICS, Statistic, parse_statistic
from moorage.monitoring.timegrid import is_valid_period

_DAY = 86_400


class StateValue(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class ComparisonOperator(StrEnum):
    GREATER_THAN_OR_EQUAL_TO_THRESHOLD = "GreaterThanOrEqualToThreshold"
    GREATER_THAN_THRESHOLD = "GreaterThanThreshold"
    LESS_THAN_THRESHOLD = "LessThanThreshold"
    LESS_THAN_OR_EQUAL_TO_THRESHOLD = "LessThanOrEqualToThreshold"
    # Anomaly detection bands (ThresholdMetricId): not supported.
    LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD = "LessThanLowerOrGreaterThanUpperThreshold"
    LESS_THAN_LOWER_THRESHOLD = "LessThanLowerThreshold"
    GREATER_THAN_UPPER_THRESHOLD = "GreaterThanUpperThreshold"

    @property
    def is_band(self) -> bool:
        return self.name.startswith(("LESS_THAN_LOWER", "GREATER_THAN_UPPER"))

    @property
    def phrase(self) -> str:
        """How a state reason says it: ``greater than or equal to``."""
        return {
            "GreaterThanOrEqualToThreshold": "greater than or equal to",
            "GreaterThanThreshold": "greater than",
            "LessThanThreshold": "less than",
            "LessThanOrEqualToThreshold": "less than or equal to",
        }.get(self.value, self.value)

    def breaches(self, value: float, threshold: float) -> bool:
        if self is ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD:
            return value >= threshold
        if self is ComparisonOperator.GREATER_THAN_THRESHOLD:
            return value > threshold
        if self is ComparisonOperator.LESS_THAN_THRESHOLD:
            return value < threshold
        if self is ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD:
            return value <= threshold
        raise MetricsValidationError(_band_message(self))


class TreatMissingData(StrEnum):
    MISSING = "missing"
    IGNORE = "ignore"
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"


def _band_message(op: ComparisonOperator) -> str:
    return (
        f"ComparisonOperator {op.value} compares with an anomaly detection band, which moorage "
        "does not support; use GreaterThanThreshold, GreaterThanOrEqualToThreshold, "
        "LessThanThreshold or LessThanOrEqualToThreshold with a Threshold."
    )


@dataclass(frozen=True)
class AlarmDefinition:
    """A metric alarm as ``PutMetricAlarm`` defines it."""

    name: str
    comparison_operator: ComparisonOperator
    evaluation_periods: int
    threshold: float | None = None
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: tuple[Dimension, ...] = ()
    statistic: str | None = None
    extended_statistic: str | None = None
    period: int | None = None
    unit: str | None = None
    datapoints_to_alarm: int | None = None
    treat_missing_data: TreatMissingData = TreatMissingData.MISSING
    evaluate_low_sample_count_percentile: str | None = None
    metrics: tuple[MetricDataQuery, ...] = ()
    threshold_metric_id: str | None = None
    actions_enabled: bool = True
    description: str | None = None
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()

    # -- derived ---------------------------------------------------------------

    @property
    def metric_key(self) -> MetricKey:
        return MetricKey.of(self.namespace or "", self.metric_name or "", self.dimensions)

    @property
    def datapoints(self) -> int:
        """M of "M out of N" (``DatapointsToAlarm``, else ``EvaluationPeriods``)."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def statistic_name(self) -> str:
        return self.statistic or self.extended_statistic or ""

    def parsed_statistic(self) -> Statistic:
        return parse_statistic(self.statistic_name)

    @property
    def evaluation_period(self) -> int:
        """The alarm's period: ``Period``, or that of its metric math queries."""
        if self.period is not None:
            return self.period
        for query in self.metrics:
            if query.metric_stat is not None:
                return query.metric_stat.period
        for query in self.metrics:
            if query.period is not None:
                return query.period
        return 60

    @property
    def returned_query(self) -> MetricDataQuery | None:
        returned = [q for q in self.metrics if q.return_data]
        return returned[0] if len(returned) == 1 else None

    # -- validation ------------------------------------------------------------

    def validate(self) -> None:
        """Raise a :class:`MonitoringError` when CloudWatch would reject this alarm."""
        op = self.comparison_operator
        if op.is_band or self.threshold_metric_id is not None:
            raise MetricsValidationError(_band_message(op))
        if self.threshold is None:
            raise MissingParameter("The parameter Threshold must be specified.")
        if self.metrics:
            self._validate_math()
        else:
            self._validate_single()
        n = self.evaluation_periods
        if n < 1:
            raise MetricsValidationError("EvaluationPeriods must be at least 1.")
        if self.datapoints_to_alarm is not None and not 1 <= self.datapoints_to_alarm <= n:
            raise MetricsValidationError(
                f"DatapointsToAlarm ({self.datapoints_to_alarm}) must be between 1 and "
                f"EvaluationPeriods ({n})."
            )
        period = self.evaluation_period
        limit = _DAY if period < 3600 else 7 * _DAY
        if period * n > limit:
            raise MetricsValidationError(
                f"The evaluation range (Period {period} x EvaluationPeriods {n} = {period * n} "
                f"seconds) must not exceed {limit} seconds."
            )
        if self.evaluate_low_sample_count_percentile not in (None, "evaluate", "ignore"):
            raise MetricsValidationError(
                "EvaluateLowSampleCountPercentile must be evaluate or ignore, not "
                f"{self.evaluate_low_sample_count_percentile}."
            )

    def _validate_single(self) -> None:
        if not self.namespace or not self.metric_name:
            raise MissingParameter(
                "An alarm needs MetricName and Namespace, or a Metrics list (metric math)."
            )
        if (self.statistic is None) == (self.extended_statistic is None):
            raise InvalidParameterCombination(
                "Exactly one of Statistic and ExtendedStatistic must be specified."
            )
        if self.statistic is not None and self.statistic not in STANDARD_STATISTICS:
            raise MetricsValidationError(
                f"The value {self.statistic} for parameter Statistic is invalid; valid values "
                f"are {', '.join(STANDARD_STATISTICS)}."
            )
        if self.extended_statistic is not None:
            stat = parse_statistic(self.extended_statistic)
            if stat.is_standard:
                raise MetricsValidationError(
                    f"{self.extended_statistic} is a Statistic, not an ExtendedStatistic."
                )
        if self.period is None:
            raise MissingParameter("The parameter Period must be specified.")
        if not is_valid_period(self.period):
            raise MetricsValidationError(
                f"The parameter Period must be 1, 5, 10, 20, 30 or a multiple of 60, "
                f"not {self.period}."
            )

    def _validate_math(self) -> None:
        single = {
            "MetricName": self.metric_name,
            "Namespace": self.namespace,
            "Dimensions": self.dimensions or None,
            "Period": self.period,
            "Unit": self.unit,
            "Statistic": self.statistic,
            "ExtendedStatistic": self.extended_statistic,
        }
        used = [name for name, value in single.items() if value is not None]
        if used:
            raise InvalidParameterCombination(
                f"Metrics cannot be combined with {', '.join(used)}: a metric math alarm names "
                "its metrics inside the Metrics list."
            )
        try:
            validate_queries(self.metrics)
        except MonitoringError as exc:
            # The same checks as GetMetricData's, named as PutMetricAlarm's parameter.
            message = exc.message.replace("MetricDataQueries", "Metrics")
            raise MetricsValidationError(message) from None
        if self.returned_query is None:
            raise MetricsValidationError(
                "Exactly one element of the Metrics list must have ReturnData set to true."
            )
        periods = {q.metric_stat.period for q in self.metrics if q.metric_stat is not None}
        if len(periods) > 1:
            raise MetricsValidationError("All metrics of an alarm must use the same Period.")

    # -- the API boundary ------------------------------------------------------

    @classmethod
    def from_request(cls, params: Mapping[str, Any]) -> AlarmDefinition:
        """From a validated ``PutMetricAlarm`` request (not yet :meth:`validate`-d)."""
        treat = params.get("TreatMissingData", TreatMissingData.MISSING.value)
        try:
            treat_missing = TreatMissingData(treat)
        except ValueError:
            raise MetricsValidationError(
                f"The value {treat} for parameter TreatMissingData is invalid; valid values are "
                "breaching, notBreaching, ignore and missing."
            ) from None
        threshold = params.get("Threshold")
        return cls(
            name=params["AlarmName"],
            comparison_operator=ComparisonOperator(params["ComparisonOperator"]),
            evaluation_periods=int(params["EvaluationPeriods"]),
            threshold=float(threshold) if threshold is not None else None,
            namespace=params.get("Namespace"),
            metric_name=params.get("MetricName"),
            dimensions=tuple((d["Name"], d["Value"]) for d in params.get("Dimensions", ())),
            statistic=params.get("Statistic"),
            extended_statistic=params.get("ExtendedStatistic"),
            period=params.get("Period"),
            unit=params.get("Unit"),
            datapoints_to_alarm=params.get("DatapointsToAlarm"),
            treat_missing_data=treat_missing,
            evaluate_low_sample_count_percentile=params.get("EvaluateLowSampleCountPercentile"),
            metrics=tuple(MetricDataQuery.from_api(q) for q in params.get("Metrics", ())),
            threshold_metric_id=params.get("ThresholdMetricId"),
            actions_enabled=params.get("ActionsEnabled", True),
            description=params.get("AlarmDescription"),
            ok_actions=tuple(params.get("OKActions", ())),
            alarm_actions=tuple(params.get("AlarmActions", ())),
            insufficient_data_actions=tuple(params.get("InsufficientDataActions", ())),
        )

    def to_api(self) -> dict[str, Any]:
        """The configuration members of ``DescribeAlarms``' ``MetricAlarm``."""
        out: dict[str, Any] = {"AlarmName": self.name}
        if self.description is not None:
            out["AlarmDescription"] = self.description
        out["ActionsEnabled"] = self.actions_enabled
        out["OKActions"] = list(self.ok_actions)
        out["AlarmActions"] = list(self.alarm_actions)
        out["InsufficientDataActions"] = list(self.insufficient_data_actions)
        optional: dict[str, Any] = {
            "MetricName": self.metric_name,
            "Namespace": self.namespace,
            "Statistic": self.statistic,
            "ExtendedStatistic": self.extended_statistic,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if not self.metrics:
            out["Dimensions"] = [{"Name": n, "Value": v} for n, v in self.dimensions]
        more: dict[str, Any] = {
            "Period": self.period,
            "Unit": self.unit,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator.value,
            "TreatMissingData": self.treat_missing_data.value,
            "EvaluateLowSampleCountPercentile": self.evaluate_low_sample_count_percentile,
            "ThresholdMetricId": self.threshold_metric_id,
        }
        out.update({k: v for k, v in more.items() if v is not None})
        if self.metrics:
            out["Metrics"] = [q.to_api() for q in self.metrics]
        return out
