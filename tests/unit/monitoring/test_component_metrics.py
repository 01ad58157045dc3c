"""Per-inference-component invocation metrics, as SageMaker publishes them."""

from __future__ import annotations

import datetime as dt

from moorage.clock import FakeClock
from moorage.monitoring import InvocationMetrics, MetricKey, MetricStore

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()


def _sum(store: MetricStore, name: str, component: str, stat: str = "Sum") -> float:
    key = MetricKey.of("AWS/SageMaker", name, {"InferenceComponentName": component})
    (point,) = store.get_statistics(key, T0, T0 + 60, 60, [stat])
    return dict(point.values)[stat]


def test_each_invocation_is_recorded_under_its_component() -> None:
    clock = FakeClock(T0 + 1)
    store = MetricStore(clock)
    metrics = InvocationMetrics(store)
    # Four invocations of "llm" while it has 4 copies, two of "small" with 1.
    for status in (200, 200, 400, 500):
        metrics.component_invoked("llm", 4, status, 0.020, 0.001)
    metrics.component_invoked("small", 1, 200, 0.002, 0.0005)
    metrics.component_invoked("small", 1, 200, 0.004, 0.0005)
    clock.set(T0 + 61)
    assert _sum(store, "Invocations", "llm") == 4.0
    # One invocation per copy on average: each adds 1/copies.
    assert _sum(store, "InvocationsPerCopy", "llm") == 1.0
    assert _sum(store, "InvocationsPerCopy", "small") == 2.0
    assert _sum(store, "Invocation4XXErrors", "llm") == 1.0
    assert _sum(store, "Invocation5XXErrors", "llm") == 1.0
    assert _sum(store, "Invocation5XXErrors", "llm", "Average") == 0.25
    # A 4xx and a 5xx answer of the model: two model errors of four.
    assert _sum(store, "InvocationModelErrors", "llm", "Average") == 0.5
    assert _sum(store, "ModelLatency", "small", "Maximum") == 4000.0
    assert _sum(store, "OverheadLatency", "llm", "Average") == 1000.0
    keys = store.list_metrics("AWS/SageMaker")
    assert {(k.name, tuple(k.dimension_list())) for k in keys} == {
        (name, (("InferenceComponentName", component),))
        for name in (
            "Invocations",
            "InvocationsPerCopy",
            "Invocation4XXErrors",
            "Invocation5XXErrors",
            "InvocationModelErrors",
            "ModelLatency",
            "OverheadLatency",
        )
        for component in ("llm", "small")
    }
    latency = MetricKey.of("AWS/SageMaker", "ModelLatency", {"InferenceComponentName": "llm"})
    (point,) = store.get_statistics(latency, T0, T0 + 60, 60, ["Average"])
    assert (point.unit, dict(point.values)) == ("Microseconds", {"Average": 20000.0})
