"""``GET /ui/api/metrics?name=E&minutes=M``: an endpoint's invocation charts.

For each variant (production and shadow) and each inference component of
the endpoint: invocations per second, p50 and p99 model latency (ms), and
4xx and 5xx errors per period — read from the metric store with the same
statistics GetMetricData computes, in periods of :data:`PERIODS` seconds.
Series are sparse ``[timestamp, value]`` pairs: a period without
invocations is absent (the page draws zero for counts and a gap for
latency). :func:`window_stats` sums up a window in one row, for the shadow
test comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.dashboard.views.sources import Sources, finite
from moorage.domain.endpoint import Endpoint
from moorage.domain.inference_component import InferenceComponent
from moorage.errors import ValidationError
from moorage.monitoring import MetricKey, MetricStore
from moorage.monitoring.invocation_series import NAMESPACE
from moorage.monitoring.keys import StandardUnit
from moorage.monitoring.statistics import parse_statistic
from moorage.monitoring.timegrid import align_start

# Window (minutes) → period (seconds): about 60 to 90 points a chart.
PERIODS = {5: 5, 15: 10, 60: 60}
DEFAULT_MINUTES = 15
_SUM = parse_statistic("Sum")
_P50 = parse_statistic("p50")
_P99 = parse_statistic("p99")
_COUNT = StandardUnit.COUNT.value
_MICROS = StandardUnit.MICROSECONDS.value


def window_minutes(text: str | None) -> int:
    if text is None:
        return DEFAULT_MINUTES
    if not text.isdigit() or int(text) not in PERIODS:
        allowed = ", ".join(str(m) for m in PERIODS)
        raise ValidationError(f"minutes must be one of {allowed}.")
    return int(text)


def _key(name: str, dims: Mapping[str, str]) -> MetricKey:
    return MetricKey.of(NAMESPACE, name, dims)


def _series(
    metrics: MetricStore,
    dims: Mapping[str, str],
    start: int,
    end: float,
    period: int,
) -> dict[str, list[list[float | None]]]:
    def points(name: str, unit: str, scale: float, statistic: Any = _SUM) -> list[Any]:
        found = metrics.points(_key(name, dims), statistic, start, end, period, unit)
        return [[p.timestamp, finite(p.value * scale)] for p in found]

    return {
        "invocationsPerSecond": points("Invocations", _COUNT, 1 / period),
        "p50LatencyMs": points("ModelLatency", _MICROS, 1e-3, _P50),
        "p99LatencyMs": points("ModelLatency", _MICROS, 1e-3, _P99),
        "errors4xx": points("Invocation4XXErrors", _COUNT, 1.0),
        "errors5xx": points("Invocation5XXErrors", _COUNT, 1.0),
    }


def window_stats(
    metrics: MetricStore, dims: Mapping[str, str], start: int, end: int
) -> dict[str, Any]:
    """Invocations, their rate, errors and p50/p99 latency over ``[start, end)``."""
    invocations = metrics.aggregate(_key("Invocations", dims), _COUNT, start, end)
    errors4 = metrics.aggregate(_key("Invocation4XXErrors", dims), _COUNT, start, end)
    errors5 = metrics.aggregate(_key("Invocation5XXErrors", dims), _COUNT, start, end)
    latency = metrics.aggregate(_key("ModelLatency", dims), _MICROS, start, end)
    p50 = _P50.compute(latency)
    p99 = _P99.compute(latency)
    return {
        "invocations": int(invocations.count),
        "invocationsPerSecond": finite(invocations.count / max(1, end - start)),
        "errors4xx": int(errors4.total) if errors4.count else 0,
        "errors5xx": int(errors5.total) if errors5.count else 0,
        "p50LatencyMs": finite(p50 / 1000 if p50 is not None else None),
        "p99LatencyMs": finite(p99 / 1000 if p99 is not None else None),
    }


def endpoint_metrics(
    sources: Sources,
    endpoint: Endpoint,
    components: list[InferenceComponent],
    minutes: int,
) -> dict[str, Any]:
    period = PERIODS[minutes]
    now = sources.clock.now()
    start = align_start(now - minutes * 60, period, now)
    end = now
    names = [v.name for v in endpoint.variants]
    names += sorted({g.variant for g in endpoint.groups} - set(names))
    shadows = {v.name for v in endpoint.shadow_variants}
    subjects: list[dict[str, Any]] = [
        {
            "kind": "shadow" if name in shadows else "variant",
            "name": name,
            "series": _series(
                sources.metrics,
                {"EndpointName": endpoint.name, "VariantName": name},
                start,
                end,
                period,
            ),
        }
        for name in names
    ]
    subjects += [
        {
            "kind": "component",
            "name": c.name,
            "series": _series(
                sources.metrics, {"InferenceComponentName": c.name}, start, end, period
            ),
        }
        for c in sorted(components, key=lambda c: c.name.lower())
    ]
    return {
        "endpoint": endpoint.name,
        "start": start,
        "end": finite(end),
        "period": period,
        "minutes": minutes,
        "subjects": subjects,
    }
