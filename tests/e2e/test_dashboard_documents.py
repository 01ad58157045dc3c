"""The dashboard's JSON documents against real endpoints, model servers and traffic.

What the pages draw, read as a script would (signed GET requests): an
endpoint under a shadow test has its production and shadow variants side by
side with the invocations each received, chart series per variant with
invocation rates and p50/p99 latency, and the tail of its model servers'
logs; an endpoint whose variant is a scalable target lists the scaling
activity that raised its instance count and the alarms of its target
tracking policy.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.experiments import create_experiment, wait_experiment
from support.names import unique
from support.raw import request
from support.server import MoorageServer

T = TypeVar("T")


def _document(server: MoorageServer, document: str, **query: str) -> Any:
    reply = request(server.url, "GET", f"/ui/api/{document}?{urllib.parse.urlencode(query)}")
    assert reply.status == 200, reply.body
    return reply.json()


def _until(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def _endpoint(sm: Any, tmp_path: Path, name: str, models: tuple[str, ...]) -> None:
    for tag in models:
        url = toolbox_archive(tmp_path / f"{tag}.tar.gz", tag).as_uri()
        create_model(sm, f"{name}-{tag}", url)
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1", ProductionVariants=[variant("Prod", f"{name}-v1")]
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(sm, name)


def test_a_shadow_test_side_by_side_with_charts_and_logs(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("dash-shadow")
    _endpoint(esm, tmp_path, name, ("v1", "v2"))
    create_experiment(esm, name, name, (f"{name}-v1", "Prod"), (f"{name}-v2", "Shadow"), 100)
    wait_experiment(esm, name, "Running")
    requests = 12
    for i in range(requests):
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=json.dumps({"i": i})
        )["Body"].read()

    def both_sides() -> dict[str, Any] | None:
        (experiment,) = _document(serving, "endpoint", name=name)["experiments"]
        sides = {side["role"]: side for side in experiment["variants"]}
        counts = [sides[role]["stats"]["invocations"] for role in ("production", "shadow")]
        return experiment if counts == [requests, requests] else None

    experiment = _until(both_sides, "both sides' invocations")
    assert experiment["name"] == name
    assert experiment["status"] == "Running"
    assert experiment["samplingPercentage"] == 100
    production, shadow = experiment["variants"]
    assert (production["role"], production["variant"]) == ("production", "Prod")
    assert (shadow["role"], shadow["variant"]) == ("shadow", "Shadow")
    assert (production["model"], shadow["model"]) == (f"{name}-v1", f"{name}-v2")
    for side in (production, shadow):
        stats = side["stats"]
        assert stats["errors4xx"] == stats["errors5xx"] == 0
        assert stats["p50LatencyMs"] is not None and stats["p50LatencyMs"] > 0
        assert stats["p99LatencyMs"] >= stats["p50LatencyMs"]

    metrics = _document(serving, "metrics", name=name, minutes="5")
    assert metrics["period"] == 5
    subjects = {s["name"]: s for s in metrics["subjects"]}
    assert subjects["Prod"]["kind"] == "variant"
    assert subjects["Shadow"]["kind"] == "shadow"
    for subject in (subjects["Prod"], subjects["Shadow"]):
        series = subject["series"]
        # Invocations per second over 5-second periods add up to the requests sent.
        total = sum(value * metrics["period"] for _, value in series["invocationsPerSecond"])
        assert round(total) == requests
        assert series["p50LatencyMs"] and series["p99LatencyMs"]
        assert all(metrics["start"] <= t < metrics["end"] for t, _ in series["p99LatencyMs"])

    logs = _until(
        lambda: _document(serving, "logs", name=name)["events"], "the model servers' log lines"
    )
    assert {e["group"] for e in logs} == {f"/aws/sagemaker/Endpoints/{name}"}
    assert any("listening on" in e["message"] for e in logs)
    assert [e["timestamp"] for e in logs] == sorted(e["timestamp"] for e in logs)

    esm.stop_inference_experiment(
        Name=name,
        ModelVariantActions={"Prod": "Retain", "Shadow": "Remove"},
        DesiredState="Completed",
    )
    wait_experiment(esm, name, "Completed")
    (done,) = _document(serving, "endpoint", name=name)["experiments"]
    assert done["status"] == "Completed"
    esm.delete_inference_experiment(Name=name)
    delete(esm, name)


def test_scaling_activities_and_the_policy_alarms(
    serving: MoorageServer, esm: Any, tmp_path: Path
) -> None:
    aas = serving.client("application-autoscaling")
    name = unique("dash-scale")
    url = toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri()
    create_model(esm, f"{name}-v1", url)
    esm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1", ProductionVariants=[variant("Prod", f"{name}-v1")]
    )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(esm, name)
    ids = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{name}/variant/Prod",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=2)
    aas.put_scaling_policy(
        **ids,
        PolicyName=f"{name}-tracking",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 1000.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    # A minimum above the instance count is a scaling activity of its own.
    aas.register_scalable_target(**ids, MinCapacity=2, MaxCapacity=2)

    def scaled() -> dict[str, Any] | None:
        doc = _document(serving, "endpoint", name=name)
        done = [a for a in doc["scaling"] if a["status"] == "Successful"]
        return doc if done else None

    doc = _until(scaled, "a successful scaling activity", timeout=120)
    (activity,) = doc["scaling"]
    assert activity["resourceId"] == ids["ResourceId"]
    assert "2" in activity["description"]
    assert "minimum capacity" in activity["cause"]
    (row,) = doc["endpoint"]["variants"]
    assert row["desiredCount"] == 2
    policy_alarms = [a for a in doc["alarms"] if a["name"].startswith("TargetTracking-")]
    assert len(policy_alarms) == 2  # AlarmHigh and AlarmLow
    assert {a["metric"] for a in policy_alarms} == {"InvocationsPerInstance"}
    assert not any(a["rollback"] for a in policy_alarms)
    # The list shows the variant's new count too.
    listed = _document(serving, "endpoints")["endpoints"]
    (mine,) = [e for e in listed if e["name"] == name]
    assert mine["variants"][0]["desiredCount"] == 2
    aas.deregister_scalable_target(**ids)
    delete(esm, name)
