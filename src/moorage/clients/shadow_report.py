"""``moorage shadow-report``: production and shadow side by side, from CloudWatch metrics.

Given an inference experiment's name (or an endpoint's, for an endpoint
config with ``ShadowProductionVariants``), the report reads each variant's
metrics over the experiment's time (or the endpoint's last 14 days) with
one ``GetMetricData`` call through boto3's ``cloudwatch`` client — the
moorage server answers CloudWatch on its own port — and prints:

| Metric | From |
|---|---|
| invocations | ``Invocations`` Sum |
| p50 / p99 latency | ``ModelLatency`` p50 / p99 (microseconds, shown in ms) |
| 4xx / 5xx errors | ``Invocation4XXErrors`` / ``Invocation5XXErrors`` Sum |
| dropped | ``ShadowRequestsDropped`` Sum (shadow variants only) |

The whole window is one period (whole minutes from the minute the window
starts in), so the percentiles are over every request of the window. The
clients come from :func:`clients`, signed with the key that
:func:`moorage.auth.signing.resolve_access` finds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from moorage.auth.signing import Access

NAMESPACE = "AWS/SageMaker"
ENDPOINT_WINDOW_S = 14 * 24 * 3600.0

# (query key, metric, statistic)
_QUERIES = (
    ("invocations", "Invocations", "Sum"),
    ("p50", "ModelLatency", "p50"),
    ("p99", "ModelLatency", "p99"),
    ("errors_4xx", "Invocation4XXErrors", "Sum"),
    ("errors_5xx", "Invocation5XXErrors", "Sum"),
    ("dropped", "ShadowRequestsDropped", "Sum"),
)


class ReportError(Exception):
    """Nothing to report on (the message says why)."""


@dataclass(frozen=True)
class VariantRow:
    name: str
    role: str  # "production" | "shadow"
    invocations: float
    p50_ms: float | None
    p99_ms: float | None
    errors_4xx: float
    errors_5xx: float
    dropped: float | None  # production variants drop nothing

    def to_json(self) -> dict[str, Any]:
        return {
            "VariantName": self.name,
            "Role": self.role,
            "Invocations": self.invocations,
            "ModelLatencyP50Ms": self.p50_ms,
            "ModelLatencyP99Ms": self.p99_ms,
            "Invocation4XXErrors": self.errors_4xx,
            "Invocation5XXErrors": self.errors_5xx,
            "ShadowRequestsDropped": self.dropped,
        }


@dataclass(frozen=True)
class ShadowReport:
    subject: str  # "inference experiment" | "endpoint"
    name: str
    endpoint: str
    status: str
    start: float
    end: float
    rows: tuple[VariantRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "Subject": self.subject,
            "Name": self.name,
            "EndpointName": self.endpoint,
            "Status": self.status,
            "StartTime": _iso(self.start),
            "EndTime": _iso(self.end),
            "Variants": [row.to_json() for row in self.rows],
        }


@dataclass(frozen=True)
class _Subject:
    kind: str
    name: str
    endpoint: str
    status: str
    start: float
    end: float
    production: tuple[str, ...]
    shadows: tuple[str, ...]


def clients(access: Access) -> tuple[Any, Any]:
    """boto3 ``sagemaker`` and ``cloudwatch`` clients for the server."""
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5)
    return access.client("sagemaker", config), access.client("cloudwatch", config)


def _seconds(value: Any) -> float:
    return float(value.timestamp()) if isinstance(value, dt.datetime) else float(value)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _subject(sagemaker: Any, name: str, now: float) -> _Subject:
    try:
        experiment = sagemaker.describe_inference_experiment(Name=name)
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFound":
            raise ReportError(str(exc)) from None
    else:
        mode = experiment["ShadowModeConfig"]
        schedule = experiment.get("Schedule") or {}
        start = _seconds(schedule.get("StartTime", experiment["CreationTime"]))
        end = experiment.get("CompletionTime")
        return _Subject(
            "inference experiment",
            experiment["Name"],
            experiment["EndpointMetadata"]["EndpointName"],
            experiment["Status"],
            start,
            min(now, _seconds(end)) if end is not None else now,
            (mode["SourceModelVariantName"],),
            tuple(v["ShadowModelVariantName"] for v in mode["ShadowModelVariants"]),
        )
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if _error_code(exc) in ("ValidationException", "ResourceNotFound"):
            raise ReportError(
                f"{name} is neither an inference experiment nor an endpoint."
            ) from None
        raise ReportError(str(exc)) from None
    shadows = tuple(v["VariantName"] for v in endpoint.get("ShadowProductionVariants") or [])
    if not shadows:
        raise ReportError(f"Endpoint {name} has no shadow variant.")
    return _Subject(
        "endpoint",
        endpoint["EndpointName"],
        endpoint["EndpointName"],
        endpoint["EndpointStatus"],
        max(_seconds(endpoint["CreationTime"]), now - ENDPOINT_WINDOW_S),
        now,
        tuple(v["VariantName"] for v in endpoint["ProductionVariants"]),
        shadows,
    )


def _queries(endpoint: str, variants: Sequence[str], period: int) -> list[dict[str, Any]]:
    queries = []
    for index, variant in enumerate(variants):
        for key, metric, stat in _QUERIES:
            queries.append(
                {
                    "Id": f"{key}_{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    return queries


def _values(
    cloudwatch: Any, queries: list[dict[str, Any]], start: float, end: float
) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    params: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": dt.datetime.fromtimestamp(start, dt.UTC),
        "EndTime": dt.datetime.fromtimestamp(end, dt.UTC),
    }
    while True:
        reply = cloudwatch.get_metric_data(**params)
        for result in reply.get("MetricDataResults", []):
            values.setdefault(result["Id"], []).extend(float(v) for v in result["Values"])
        token = reply.get("NextToken")
        if not token:
            return values
        params["NextToken"] = token


def build_report(sagemaker: Any, cloudwatch: Any, name: str, now: float) -> ShadowReport:
    """The report for the experiment or endpoint ``name`` at ``now`` (epoch seconds)."""
    subject = _subject(sagemaker, name, now)
    start = math.floor(subject.start / 60) * 60
    end = max(subject.end, start + 1)
    period = max(60, math.ceil((end - start) / 60) * 60)
    variants = (*subject.production, *subject.shadows)
    try:
        values = _values(cloudwatch, _queries(subject.endpoint, variants, period), start, end)
    except ClientError as exc:
        raise ReportError(f"GetMetricData failed: {exc}") from None

    def total(key: str, index: int) -> float:
        return sum(values.get(f"{key}_{index}", []))

    def latency_ms(key: str, index: int) -> float | None:
        found = values.get(f"{key}_{index}", [])
        return found[0] / 1000.0 if found else None

    rows = []
    for index, variant in enumerate(variants):
        shadow = variant in subject.shadows
        rows.append(
            VariantRow(
                name=variant,
                role="shadow" if shadow else "production",
                invocations=total("invocations", index),
                p50_ms=latency_ms("p50", index),
                p99_ms=latency_ms("p99", index),
                errors_4xx=total("errors_4xx", index),
                errors_5xx=total("errors_5xx", index),
                dropped=total("dropped", index) if shadow else None,
            )
        )
    return ShadowReport(
        subject.kind,
        subject.name,
        subject.endpoint,
        subject.status,
        subject.start,
        subject.end,
        tuple(rows),
    )


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def format_report(report: ShadowReport) -> str:
    header = (
        f"Shadow test: {report.subject} {report.name} on endpoint {report.endpoint} "
        f"({report.status}), {_iso(report.start)} to {_iso(report.end)}"
    )
    table = [
        ("Variant", "Role", "Invocations", "p50 latency", "p99 latency", "4xx", "5xx", "Dropped")
    ]
    for row in report.rows:
        table.append(
            (
                row.name,
                row.role,
                _number(row.invocations),
                _ms(row.p50_ms),
                _ms(row.p99_ms),
                _number(row.errors_4xx),
                _number(row.errors_5xx),
                _number(row.dropped),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [header, ""]
    for number, line in enumerate(table):
        cells = [
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
