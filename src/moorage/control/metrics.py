"""PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics.

The metric side of CloudWatch, over the server's in-memory
:class:`~moorage.monitoring.MetricStore` (the runtime records SageMaker's
invocation metrics into the same store). Metrics are not persisted: like
CloudWatch's, they are observations, not desired state, and a restart
starts them afresh. The semantics live in :mod:`moorage.monitoring`; these
handlers turn validated params into its typed values and its results into
response dicts. The protocol layer is :mod:`moorage.api.cloudwatch_api`.

One deliberate local extension: ``PutMetricData`` accepts namespaces that
start with ``AWS/``, which CloudWatch reserves, so that a test can publish a
made-up ``AWS/SageMaker`` latency to trip an alarm (docs/metrics-and-alarms.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moorage.control.cloudwatch_tokens import decode_token, encode_token
from moorage.control.context import ControlContext
from moorage.monitoring import (
    DimensionFilter,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricDataQuery,
    MetricDatum,
    MetricKey,
    MetricStore,
    MetricsValidationError,
    MissingParameter,
    ScanBy,
    get_metric_data,
    parse_statistic,
    put_metric_data,
)
from moorage.monitoring.timegrid import align_start, period_count

# ListMetrics answers "up to 500 results" per call.
LIST_METRICS_PAGE = 500
# Bounds on metric math results (see _check_math_size); 100,800 is GetMetricData's
# default MaxDatapoints.
MAX_MATH_PERIODS = 100_800
MAX_MATH_VALUES = 10 * MAX_MATH_PERIODS


class MetricsService:
    def __init__(self, ctx: ControlContext, store: MetricStore) -> None:
        self.ctx = ctx
        self.store = store

    def put_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        items = list(params.get("MetricData", ()))
        # An entity only says which resource sent the data; its metrics are metrics.
        for entity in params.get("EntityMetricData", ()):
            items.extend(entity.get("MetricData", ()))
        if not items:
            raise MissingParameter("The parameter MetricData must be specified.")
        datums = [MetricDatum.from_api(item) for item in items]
        put_metric_data(self.store, params["Namespace"], datums, allow_aws_namespace=True)
        return {}

    def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        queries = [MetricDataQuery.from_api(q) for q in params["MetricDataQueries"]]
        _check_math_size(queries, params["StartTime"], params["EndTime"], self.store.clock.now())
        page = get_metric_data(
            self.store,
            queries,
            params["StartTime"],
            params["EndTime"],
            scan_by=ScanBy(params.get("ScanBy", ScanBy.TIMESTAMP_DESCENDING.value)),
            max_datapoints=params.get("MaxDatapoints"),
            next_token=params.get("NextToken"),
        )
        return {
            "MetricDataResults": [
                {
                    "Id": result.id,
                    "Label": result.label,
                    "Timestamps": list(result.timestamps),
                    "Values": list(result.values),
                    "StatusCode": result.status_code.value,
                    "Messages": [],
                }
                for result in page.results
            ],
            "NextToken": page.next_token,
            "Messages": [],
        }

    def get_metric_statistics(self, params: dict[str, Any]) -> dict[str, Any]:
        standard: list[str] = params.get("Statistics", [])
        extended: list[str] = params.get("ExtendedStatistics", [])
        if standard and extended:
            raise InvalidParameterCombination(
                "The parameters Statistics and ExtendedStatistics are mutually exclusive and you "
                "have specified both."
            )
        for text in extended:
            if parse_statistic(text).is_standard:
                raise InvalidParameterValue(
                    f"The value {text} for parameter ExtendedStatistics is invalid: it is a "
                    "Statistic; ExtendedStatistics takes percentiles such as p99."
                )
        key = MetricKey.of(
            params["Namespace"],
            params["MetricName"],
            [(d["Name"], d["Value"]) for d in params.get("Dimensions", ())],
        )
        datapoints = self.store.get_statistics(
            key,
            params["StartTime"],
            params["EndTime"],
            params["Period"],
            [*standard, *extended],
            params.get("Unit"),
        )
        return {
            "Label": key.name,
            "Datapoints": [
                {
                    "Timestamp": point.timestamp,
                    **point.standard,
                    "Unit": point.unit,
                    "ExtendedStatistics": point.extended or None,
                }
                for point in datapoints
            ],
        }

    def list_metrics(self, params: dict[str, Any]) -> dict[str, Any]:
        keys = self.store.list_metrics(
            params.get("Namespace"),
            params.get("MetricName"),
            [DimensionFilter(d["Name"], d.get("Value")) for d in params.get("Dimensions", ())],
            recently_active=params.get("RecentlyActive") == "PT3H",
        )
        account = self.ctx.partition.account_id
        owner = params.get("OwningAccount")
        if owner is not None and owner != account:
            keys = []
        if "NextToken" in params:
            after = _metric_position(decode_token("ListMetrics", params["NextToken"]))
            keys = [key for key in keys if _sort_key(key) > after]
        chunk = keys[:LIST_METRICS_PAGE]
        out: dict[str, Any] = {"Metrics": [key.to_api() for key in chunk]}
        if params.get("IncludeLinkedAccounts"):
            out["OwningAccounts"] = [account] * len(chunk)
        if len(keys) > LIST_METRICS_PAGE:
            out["NextToken"] = encode_token("ListMetrics", _sort_key(chunk[-1]))
        return out


def _check_math_size(
    queries: Sequence[MetricDataQuery], start: float, end: float, now: float
) -> None:
    """Refuse metric math whose results would hold too many periods.

    A scalar result, and ``FILL``, give a value at *every* period of the time
    range, so their size is set by the range, not by the data: a year at one
    second would be 31 million values. Plain ``MetricStat`` queries only
    return periods with data and are not limited here.
    """
    if all(q.expression is None for q in queries):
        return
    periods = [q.metric_stat.period for q in queries if q.metric_stat is not None]
    periods += [q.period for q in queries if q.period is not None]
    period = min(periods, default=60)
    if period < 1:
        return  # the query checks name the bad Period
    count = period_count(align_start(start, period, now), end, period)
    series = max(1, sum(1 for q in queries if q.metric_stat is not None))
    if count > MAX_MATH_PERIODS or count * series > MAX_MATH_VALUES:
        each = f" for each of {series} metrics" if series > 1 else ""
        raise MetricsValidationError(
            f"The time range holds {count:,} periods of {period} seconds{each}; moorage "
            f"evaluates metric math over at most {MAX_MATH_PERIODS:,} periods and "
            f"{MAX_MATH_VALUES:,} values in all. Narrow the time range or increase the Period."
        )


_SortKey = list[Any]


def _sort_key(key: MetricKey) -> _SortKey:
    """The order ``MetricStore.list_metrics`` sorts by, in its JSON form."""
    return [key.namespace, key.name, [list(pair) for pair in key.dimension_list()]]


def _metric_position(position: Any) -> _SortKey:
    valid = (
        isinstance(position, list)
        and len(position) == 3
        and isinstance(position[0], str)
        and isinstance(position[1], str)
        and isinstance(position[2], list)
        and all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            for pair in position[2]
        )
    )
    if not valid:
        raise InvalidNextToken("The service cannot decode the NextToken.")
    return list(position)
