"""Endpoint configs with ShadowProductionVariants: sampled copies, metrics, no effect on callers.

The production variant answers every request; the shadow receives a copy of
a share of them (its weight over the production weight) through a bounded
queue, and its own metrics appear under its variant name. Streamed requests
(InvokeEndpointWithResponseStream) are copied as streams.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from support.archives import toolbox_archive, write_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.names import unique
from support.server import MoorageServer, running

SLOW_MODEL = {
    "code/inference.py": """
        import json
        import time


        def model_fn(model_dir, context):
            return "slow"


        def input_fn(input_data, content_type, context):
            return input_data


        def predict_fn(data, model, context):
            time.sleep(1.0)
            return {"tag": "slow"}


        def output_fn(prediction, accept, context):
            return json.dumps(prediction), "application/json"
    """,
}


# A shadow that streams its answer slowly: three chunks, 0.1 s apart.
SLOW_STREAM_MODEL = {
    "code/inference.py": """
        import json
        import time


        def model_fn(model_dir, context):
            return "slow-stream"


        def input_fn(input_data, content_type, context):
            return json.loads(input_data)


        def predict_fn(data, model, context):
            return _chunks()


        def _chunks():
            for i in range(3):
                time.sleep(0.1)
                yield f"shadow-{i};"


        def output_fn(prediction, accept, context):
            return prediction
    """,
}


def metric_stat(
    cw: Any, endpoint: str, variant_name: str, metric: str, since: dt.datetime, stat: str
) -> list[float]:
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant_name},
        ],
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        Period=60,
        Statistics=[stat],
    )["Datapoints"]
    return [float(p[stat]) for p in points]


def metric_sum(cw: Any, endpoint: str, variant_name: str, metric: str, since: dt.datetime) -> float:
    return sum(metric_stat(cw, endpoint, variant_name, metric, since, "Sum"))


def settled_sum(
    cw: Any, endpoint: str, variant_name: str, metric: str, since: dt.datetime
) -> float:
    """The metric's sum once it stopped growing (the shadow queue has drained)."""
    last = -1.0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = metric_sum(cw, endpoint, variant_name, metric, since)
        if value == last:
            return value
        last = value
        time.sleep(0.7)
    return last


def _shadow_endpoint(
    sm: Any, tmp_path: Path, *, shadow_url: str, shadow_weight: float, name: str
) -> None:
    create_model(sm, f"{name}-prod", toolbox_archive(tmp_path / "prod.tar.gz", "prod").as_uri())
    create_model(sm, f"{name}-shadow", shadow_url)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("Prod", f"{name}-prod")],
        ShadowProductionVariants=[variant("Shadow", f"{name}-shadow", weight=shadow_weight)],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)


def test_shadow_receives_its_share_and_callers_only_see_production(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("shadowed")
    cw = serving.client("cloudwatch")
    since = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    shadow_url = toolbox_archive(tmp_path / "shadow.tar.gz", "shadow").as_uri()
    _shadow_endpoint(esm, tmp_path, shadow_url=shadow_url, shadow_weight=0.3, name=name)
    described = esm.describe_endpoint(EndpointName=name)
    (prod,) = described["ProductionVariants"]
    (shadow,) = described["ShadowProductionVariants"]
    assert prod["VariantName"] == "Prod"
    assert shadow["VariantName"] == "Shadow"
    assert shadow["CurrentWeight"] == pytest.approx(0.3)
    assert shadow["CurrentInstanceCount"] == 1

    requests = 400
    tags = set()
    for i in range(requests):
        reply = runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=json.dumps({"i": i})
        )
        assert reply["InvokedProductionVariant"] == "Prod"
        tags.add(json.loads(reply["Body"].read())["tag"])
    assert tags == {"prod"}

    assert metric_sum(cw, name, "Prod", "Invocations", since) == requests
    copied = settled_sum(cw, name, "Shadow", "Invocations", since)
    # Binomial(400, 0.3): mean 120, standard deviation 9.2; five deviations either side.
    assert 74 <= copied <= 166, copied
    assert metric_sum(cw, name, "Shadow", "ShadowRequestsDropped", since) == 0
    assert metric_sum(cw, name, "Shadow", "Invocation5XXErrors", since) == 0
    delete(esm, name)


def test_streamed_invocations_reach_the_shadow_as_streams(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("streamshadow")
    cw = serving.client("cloudwatch")
    since = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    shadow_url = write_archive(tmp_path / "shadow.tar.gz", SLOW_STREAM_MODEL).as_uri()
    _shadow_endpoint(esm, tmp_path, shadow_url=shadow_url, shadow_weight=1.0, name=name)

    requests = 12
    for i in range(requests):
        answer = runtime.invoke_endpoint_with_response_stream(
            EndpointName=name,
            ContentType="application/json",
            Body=json.dumps({"op": "stream", "n": 4, "tagged": True, "i": i}),
        )
        assert answer["InvokedProductionVariant"] == "Prod"
        parts = b"".join(event["PayloadPart"]["Bytes"] for event in answer["Body"])
        assert parts == b"prod-0;prod-1;prod-2;prod-3;"
    # A production stream that breaks midway is not copied.
    broken = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, ContentType="application/json", Body='{"op": "stream-fail"}'
    )
    with pytest.raises(EventStreamError):
        for _ in broken["Body"]:
            pass

    assert metric_sum(cw, name, "Prod", "Invocations", since) == requests + 1
    # Sampled at 100 %: every stream that ended normally was copied.
    assert settled_sum(cw, name, "Shadow", "Invocations", since) == requests
    assert metric_sum(cw, name, "Shadow", "ShadowRequestsDropped", since) == 0
    assert metric_sum(cw, name, "Shadow", "Invocation5XXErrors", since) == 0
    # Each copy was read to the end of the shadow's stream (3 chunks, 0.1 s apart).
    fastest = min(metric_stat(cw, name, "Shadow", "ModelLatency", since, "Minimum"))
    assert fastest >= 300_000, fastest
    delete(esm, name)


def _median_latency(runtime: Any, name: str, count: int) -> float:
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=json.dumps({"i": i})
        )
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies)


def test_a_slow_shadow_does_not_slow_production_and_overflow_is_dropped(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("slowshadow")
    plain = unique("plain")
    cw = serving.client("cloudwatch")
    since = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    slow_url = write_archive(tmp_path / "slow.tar.gz", SLOW_MODEL).as_uri()
    _shadow_endpoint(esm, tmp_path, shadow_url=slow_url, shadow_weight=1.0, name=name)
    create_model(esm, plain, toolbox_archive(tmp_path / "plain.tar.gz", "prod").as_uri())
    esm.create_endpoint_config(EndpointConfigName=plain, ProductionVariants=[variant("P", plain)])
    esm.create_endpoint(EndpointName=plain, EndpointConfigName=plain)
    wait_in_service(esm, plain)

    baseline = _median_latency(runtime, plain, 150)
    # Every request is copied to a shadow that takes a second each: its queue
    # fills within the first few hundred requests and the rest are dropped.
    shadowed = _median_latency(runtime, name, 400)
    assert shadowed < baseline + 0.1, (baseline, shadowed)
    assert shadowed < 0.5

    dropped = settled_sum(cw, name, "Shadow", "ShadowRequestsDropped", since)
    answered = settled_sum(cw, name, "Shadow", "Invocations", since)
    assert dropped > 0
    assert answered >= 1
    assert answered + dropped <= 400
    delete(esm, plain)
    delete(esm, name)


def test_the_shadow_queue_and_concurrency_are_set_by_serve_options(tmp_path: Path) -> None:
    # One copy in flight, two waiting: of ten quick requests to a shadow that
    # takes a second each, three reach it and seven are dropped.
    options = ("--shadow-queue", "2", "--shadow-concurrency", "1")
    with running(tmp_path / "data", extra_args=options) as server:
        sm = server.client("sagemaker")
        runtime = server.client("sagemaker-runtime")
        cw = server.client("cloudwatch")
        name = unique("shadowqueue")
        since = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        slow_url = write_archive(tmp_path / "slow.tar.gz", SLOW_MODEL).as_uri()
        _shadow_endpoint(sm, tmp_path, shadow_url=slow_url, shadow_weight=1.0, name=name)
        for i in range(10):
            runtime.invoke_endpoint(
                EndpointName=name, ContentType="application/json", Body=json.dumps({"i": i})
            )
        deadline = time.monotonic() + 20  # the copies kept are answered one a second
        while True:
            answered = metric_sum(cw, name, "Shadow", "Invocations", since)
            dropped = metric_sum(cw, name, "Shadow", "ShadowRequestsDropped", since)
            if answered + dropped >= 10 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert answered + dropped == 10
        assert 3 <= answered <= 4, (answered, dropped)


def test_shadow_variant_rules(esm: Any, tmp_path: Path) -> None:
    name = unique("shadowrules")
    create_model(esm, name, toolbox_archive(tmp_path / "m.tar.gz").as_uri())
    with pytest.raises(ClientError) as two_production:
        esm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[variant("A", name), variant("B", name)],
            ShadowProductionVariants=[variant("S", name)],
        )
    assert two_production.value.response["Error"]["Code"] == "ValidationException"
    assert "exactly one production variant" in two_production.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as same_name:
        esm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[variant("A", name)],
            ShadowProductionVariants=[variant("A", name)],
        )
    assert same_name.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError):
        esm.describe_endpoint_config(EndpointConfigName=name)
