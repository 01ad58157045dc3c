"""SageMaker invocation metrics, the Prometheus page, and CloudWatch's formats."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import InvocationMetrics, MetricKey, MetricStore, render_prometheus
from moorage.monitoring.prometheus import snake_case
from moorage.monitoring.timegrid import iso_millis, java_double, reason_date, window_end

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
DIMS = {"EndpointName": "shop", "VariantName": "blue"}


def _invoked() -> MetricStore:
    clock = FakeClock(T0 + 10)
    store = MetricStore(clock)
    metrics = InvocationMetrics(store)
    for status, latency in [(200, 0.010), (200, 0.020), (404, 0.001), (500, 0.030)]:
        metrics.invoked("shop", "blue", None, status, latency, 0.0005, instances=2)
    return store


def test_a_fleet_config_adds_a_series_per_config() -> None:
    clock = FakeClock(T0 + 10)
    store = MetricStore(clock)
    metrics = InvocationMetrics(store)
    metrics.invoked("shop", "blue", "green-config", 200, 0.010, 0.0005)
    metrics.invoked("shop", "blue", "blue-config", 500, 0.020, 0.0005)
    metrics.invoked("shop", "blue", "green-config", 200, 0.030, 0.0005)

    def total(name: str, dims: dict[str, str]) -> float:
        key = MetricKey.of("AWS/SageMaker", name, dims)
        [point] = store.get_statistics(key, T0, T0 + 60, 60, ["Sum"])
        return point.values["Sum"]

    assert total("Invocations", DIMS) == 3
    assert total("Invocations", {**DIMS, "EndpointConfigName": "green-config"}) == 2
    assert total("Invocation5XXErrors", {**DIMS, "EndpointConfigName": "green-config"}) == 0
    assert total("Invocation5XXErrors", {**DIMS, "EndpointConfigName": "blue-config"}) == 1


def test_invocations_record_sagemakers_metrics() -> None:
    store = _invoked()
    names = [key.name for key in store.list_metrics(namespace="AWS/SageMaker")]
    assert names == [
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "InvocationModelErrors",
        "Invocations",
        "InvocationsPerInstance",
        "ModelLatency",
        "OverheadLatency",
    ]

    def stat(name: str, statistic: str) -> float:
        key = MetricKey.of("AWS/SageMaker", name, DIMS)
        [point] = store.get_statistics(key, T0, T0 + 60, 60, [statistic])
        return point.values[statistic]

    assert stat("Invocations", "Sum") == 4
    assert stat("Invocation4XXErrors", "Sum") == 1
    assert stat("Invocation5XXErrors", "Average") == 0.25
    assert stat("InvocationModelErrors", "Sum") == 2
    # 1 / 2 instances per invocation: the invocations each instance received.
    assert stat("InvocationsPerInstance", "Sum") == 2
    assert stat("ModelLatency", "Maximum") == pytest.approx(30_000)
    assert stat("OverheadLatency", "p50") == pytest.approx(500)


def test_prometheus_page() -> None:
    store = _invoked()
    store.recorder(MetricKey.of("App", "CPUUtilization", {"Host": 'a"b'}), "Percent").record(
        42.5, T0 + 10
    )
    page = render_prometheus(store)
    lines = page.splitlines()
    assert "# TYPE moorage_invocations_total counter" in lines
    assert 'moorage_invocations_total{endpoint="shop",variant="blue"} 4.0' in lines
    assert 'moorage_invocation_4xx_errors_total{endpoint="shop",variant="blue"} 1.0' in lines
    assert "# TYPE moorage_model_latency_seconds summary" in lines
    assert (
        'moorage_model_latency_seconds{endpoint="shop",variant="blue",quantile="0.5"} 0.01' in lines
    )
    assert (
        'moorage_model_latency_seconds{endpoint="shop",variant="blue",quantile="0.99"} 0.03'
        in lines
    )
    count = 'moorage_model_latency_seconds_count{endpoint="shop",variant="blue"} 4.0'
    assert count in lines
    [total] = [line for line in lines if line.startswith("moorage_model_latency_seconds_sum")]
    assert float(total.split()[-1]) == pytest.approx(0.061)
    assert "# TYPE moorage_cpu_utilization_percent gauge" in lines
    assert 'moorage_cpu_utilization_percent{host="a\\"b",namespace="App"} 42.5' in lines
    assert page.endswith("\n")
    # Every sample line follows a HELP and TYPE of its family.
    families = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    for line in lines:
        if not line.startswith("#"):
            name = line.split("{")[0].split()[0]
            assert name in families or name.rsplit("_", 1)[0] in families


def test_prometheus_summary_quantiles_cover_the_last_minute() -> None:
    store = _invoked()
    page = render_prometheus(store, T0 + 300)
    line = next(line for line in page.splitlines() if 'quantile="0.5"' in line)
    assert line.endswith(" NaN")
    assert render_prometheus(MetricStore(FakeClock(T0))) == ""


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("Invocations", "invocations"),
        ("Invocation4XXErrors", "invocation_4xx_errors"),
        ("CPUUtilization", "cpu_utilization"),
        ("InvocationsPerInstance", "invocations_per_instance"),
        ("GPUMemoryUtilization", "gpu_memory_utilization"),
        ("my-metric.v2", "my_metric_v_2"),
    ],
)
def test_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12.0, "12.0"),
        (0.5, "0.5"),
        (150, "150.0"),
        (-3.25, "-3.25"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.0, "1234567.0"),
        (12345678.0, "1.2345678E7"),
        (1e7, "1.0E7"),
        (2.5e-10, "2.5E-10"),
        (0.0, "0.0"),
        (math.inf, "Infinity"),
    ],
)
def test_java_double(value: float, text: str) -> None:
    assert java_double(value) == text


def test_time_formats() -> None:
    assert reason_date(T0 + 3723) == "21/11/26 11:02:03"
    assert iso_millis(T0 + 0.25) == "2026-11-21T10:00:00.250+0000"
    assert window_end(T0 + 119, 300) == T0 + 60
    assert window_end(T0 + 19, 10) == T0 + 10
