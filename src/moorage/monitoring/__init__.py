"""Monitoring: metrics, CloudWatch statistics and metric math, alarm evaluation.

The in-process part of moorage's CloudWatch: ``runtime/`` records invocation
metrics into a :class:`MetricStore` (:class:`InvocationMetrics`); the
CloudWatch protocol handlers in ``api/``/``control/`` call
:func:`put_metric_data`, :meth:`MetricStore.get_statistics`,
:meth:`MetricStore.list_metrics`, :func:`get_metric_data` and the
:class:`AlarmEvaluator`'s registry; ``deploy/``'s rollouts subscribe to alarm
transitions; the server's ``/metrics`` page is :func:`render_prometheus`.
Nothing here does I/O; time comes from the :class:`~moorage.clock.Clock`
given to the store and the evaluator. See ``docs/metrics-and-alarms.md``.
"""

from moorage.monitoring.alarm_eval import evaluate
from moorage.monitoring.alarm_state import (
    AlarmHistoryItem,
    AlarmState,
    ConfigurationChange,
    Evaluation,
    HistoryItemType,
    apply_evaluation,
    configuration_item,
    force_state,
    is_held,
    state_update_item,
)
from moorage.monitoring.alarms import (
    AlarmDefinition,
    ComparisonOperator,
    StateValue,
    TreatMissingData,
)
from moorage.monitoring.errors import (
    AlarmNotFound,
    InvalidFormat,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricsValidationError,
    MissingParameter,
    MonitoringError,
)
from moorage.monitoring.evaluator import AlarmEvaluator, AlarmRecord, StateChange, Subscriber
from moorage.monitoring.ingest import MetricDatum, StatisticSet, put_metric_data
from moorage.monitoring.keys import DimensionFilter, MetricKey, StandardUnit
from moorage.monitoring.metric_data import (
    MetricDataPage,
    MetricDataQuery,
    MetricDataResult,
    MetricStat,
    ScanBy,
    StatusCode,
    evaluate_queries,
    get_metric_data,
)
from moorage.monitoring.prometheus import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from moorage.monitoring.prometheus import render as render_prometheus
from moorage.monitoring.sagemaker import InvocationMetrics
from moorage.monitoring.statistics import Statistic, parse_statistic
from moorage.monitoring.store import (
    Datapoint,
    Footprint,
    MetricStore,
    Point,
    Recorder,
    Retention,
    SeriesSummary,
)

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "AlarmDefinition",
    "AlarmEvaluator",
    "AlarmHistoryItem",
    "AlarmNotFound",
    "AlarmRecord",
    "AlarmState",
    "ComparisonOperator",
    "ConfigurationChange",
    "Datapoint",
    "DimensionFilter",
    "Evaluation",
    "Footprint",
    "HistoryItemType",
    "InvalidFormat",
    "InvalidNextToken",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "InvocationMetrics",
    "MetricDataPage",
    "MetricDataQuery",
    "MetricDataResult",
    "MetricDatum",
    "MetricKey",
    "MetricStat",
    "MetricStore",
    "MetricsValidationError",
    "MissingParameter",
    "MonitoringError",
    "Point",
    "Recorder",
    "Retention",
    "ScanBy",
    "SeriesSummary",
    "StandardUnit",
    "StateChange",
    "StateValue",
    "Statistic",
    "StatisticSet",
    "StatusCode",
    "Subscriber",
    "TreatMissingData",
    "apply_evaluation",
    "configuration_item",
    "evaluate",
    "evaluate_queries",
    "force_state",
    "get_metric_data",
    "is_held",
    "parse_statistic",
    "put_metric_data",
    "render_prometheus",
    "state_update_item",
]
