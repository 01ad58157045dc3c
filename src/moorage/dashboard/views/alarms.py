"""The alarms that concern one endpoint, with their state now.

An alarm concerns an endpoint when it is a rollback alarm of one of its
deployments seen by the dashboard, or when its metric has the dimension
``EndpointName`` = the endpoint, or ``InferenceComponentName`` = one of the
components it hosts (metric math alarms are matched on every metric they
read).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from moorage.dashboard.views.sources import Sources, finite
from moorage.monitoring import AlarmRecord
from moorage.monitoring.alarms import AlarmDefinition


def _dimensions(definition: AlarmDefinition) -> list[tuple[str, str]]:
    found = list(definition.dimensions)
    for query in definition.metrics:
        stat = query.metric_stat
        if stat is not None:
            found.extend(stat.metric.dimensions)
    return found


def _concerns(definition: AlarmDefinition, endpoint: str, components: Collection[str]) -> bool:
    for name, value in _dimensions(definition):
        if name == "EndpointName" and value == endpoint:
            return True
        if name == "InferenceComponentName" and value in components:
            return True
    return False


def _row(record: AlarmRecord, rollback: bool) -> dict[str, Any]:
    definition = record.definition
    return {
        "name": definition.name,
        "state": record.state.value.value,
        "reason": record.state.reason,
        "updated": record.state.updated_at,
        "metric": definition.metric_name,
        "statistic": definition.statistic_name or None,
        "comparison": definition.comparison_operator.value,
        "threshold": finite(definition.threshold),
        "period": definition.evaluation_period,
        "rollback": rollback,
    }


def endpoint_alarms(
    sources: Sources, endpoint: str, components: Collection[str], rollback: Collection[str]
) -> list[dict[str, Any]]:
    rows = []
    for record in sources.alarms.alarms():
        name = record.definition.name
        if name in rollback or _concerns(record.definition, endpoint, components):
            rows.append(_row(record, name in rollback))
    return rows
