"""Asynchronous endpoints with no instance: requests wait, expire, and scale the variant out.

The server runs with ``--clock-speed 30`` (a minute of its clock is two real
seconds), so a ``RequestTTLSeconds`` of 60 and the alarms of AWS's
asynchronous-inference autoscaling recipe (a target tracking policy on
``ApproximateBacklogSizePerInstance`` with ``MinCapacity`` 0, and a step
scaling policy on a ``HasBacklogWithoutCapacity`` alarm) decide in seconds,
as they would in minutes on AWS. Model servers start in real time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from support.async_inference import async_model_archive, deploy_async, read_object, wait_for
from support.moto_s3 import MotoS3
from support.names import unique
from support.server import MoorageServer, running

SPEED = ("--clock-speed", "30")


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[MoorageServer]:
    data = tmp_path_factory.mktemp("async-fast")
    with running(data, env=moto_s3.env(), extra_args=SPEED) as srv:
        yield srv


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return async_model_archive(tmp_path_factory.mktemp("async-model") / "model.tar.gz").as_uri()


def _instances(sm: Any, name: str) -> tuple[str, int, int | None]:
    found = sm.describe_endpoint(EndpointName=name)
    variant = found["ProductionVariants"][0]
    return (
        found["EndpointStatus"],
        variant["DesiredInstanceCount"],
        variant.get("CurrentInstanceCount"),
    )


def _settle(sm: Any, name: str, count: int, timeout: float = 90) -> None:
    wanted = ("InService", count, count)
    wait_for(lambda: True if _instances(sm, name) == wanted else None, timeout, 0.5)


def _scale(sm: Any, name: str, count: int) -> None:
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": count}],
    )
    _settle(sm, name, count)


def _series(server: MoorageServer, metric: str, dims: dict[str, str], stat: str) -> list[float]:
    """The metric per minute of the server's (fast) clock, newest first."""
    cw = server.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    [result] = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        # Thirty times real time: a few real minutes are hours of the server's clock.
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(hours=4),
        ScanBy="TimestampDescending",
    )["MetricDataResults"]
    return [float(v) for v in result["Values"]]


def test_requests_wait_without_instances_and_expire_after_their_ttl(
    fast: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str
) -> None:
    sm, runtime = fast.sagemaker, fast.client("sagemaker-runtime")
    name = unique("async-zero")
    deploy_async(sm, name, model_url, {"OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out"}})
    _scale(sm, name, 0)
    doomed = runtime.invoke_endpoint_async(
        EndpointName=name,
        Body=b'{"op": "echo"}',
        ContentType="application/json",
        RequestTTLSeconds=60,
    )
    kept = runtime.invoke_endpoint_async(
        EndpointName=name, Body=b'{"op": "echo", "kept": 1}', ContentType="application/json"
    )
    endpoint = {"EndpointName": name}
    wait_for(
        lambda: (
            True
            if _series(fast, "HasBacklogWithoutCapacity", endpoint, "Maximum")[:1] == [1.0]
            else None
        ),
        30,
    )
    reason, content_type = wait_for(lambda: read_object(moto_s3, doomed["FailureLocation"]), 60)
    assert reason.decode() == (
        f"ClientError: Request {doomed['InferenceId']} expired: it waited in the queue longer "
        "than its RequestTTLSeconds (60 seconds)."
    )
    assert content_type.startswith("text/plain")
    assert read_object(moto_s3, doomed["OutputLocation"]) is None
    assert read_object(moto_s3, kept["OutputLocation"]) is None
    variant = {"EndpointName": name, "VariantName": "AllTraffic"}
    assert sum(_series(fast, "ExpiredRequests", variant, "Sum")) == 1
    # It waited its whole TTL (on the server's clock) before it expired.
    assert max(_series(fast, "TimeInBacklog", variant, "Maximum")) >= 60e6

    _scale(sm, name, 1)
    body, _ = wait_for(lambda: read_object(moto_s3, kept["OutputLocation"]), 60)
    assert json.loads(body)["echo"]["kept"] == 1
    wait_for(
        lambda: (
            True
            if _series(fast, "HasBacklogWithoutCapacity", endpoint, "Minimum")[:1] == [0.0]
            else None
        ),
        30,
    )
    sm.delete_endpoint(EndpointName=name)


def test_scales_to_zero_on_an_empty_backlog_and_back_out_for_a_request(
    fast: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str
) -> None:
    """AWS's asynchronous inference autoscaling recipe, unchanged but for the names."""
    sm, runtime = fast.sagemaker, fast.client("sagemaker-runtime")
    aas, cloudwatch = fast.client("application-autoscaling"), fast.client("cloudwatch")
    name = unique("async-auto")
    deploy_async(sm, name, model_url, {"OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out"}})
    ids = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{name}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    aas.register_scalable_target(**ids, MinCapacity=0, MaxCapacity=2)
    aas.put_scaling_policy(
        **ids,
        PolicyName="Invocations-ScalingPolicy",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance",
                "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": name}],
                "Statistic": "Average",
            },
            "ScaleInCooldown": 600,
            "ScaleOutCooldown": 300,
        },
    )
    step = aas.put_scaling_policy(
        **ids,
        PolicyName="HasBacklogWithoutCapacity-ScalingPolicy",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Average",
            "Cooldown": 300,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )["PolicyARN"]
    cloudwatch.put_metric_alarm(
        AlarmName=f"{name}-HasBacklogWithoutCapacity",
        MetricName="HasBacklogWithoutCapacity",
        Namespace="AWS/SageMaker",
        Statistic="Average",
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="missing",
        Dimensions=[{"Name": "EndpointName", "Value": name}],
        Period=60,
        AlarmActions=[step],
    )
    try:
        # An empty backlog for 15 minutes (30 real seconds): AlarmLow scales in to 0.
        _settle(sm, name, 0, timeout=120)
        reply = runtime.invoke_endpoint_async(
            EndpointName=name, Body=b'{"op": "echo", "n": 7}', ContentType="application/json"
        )
        # Two minutes with a backlog and no instance: the step policy adds one.
        body, _ = wait_for(lambda: read_object(moto_s3, reply["OutputLocation"]), 120)
        assert json.loads(body)["echo"]["n"] == 7
        found = aas.describe_scaling_activities(**ids)["ScalingActivities"]
        causes = [(a["Description"], a["Cause"].split(" triggered")[0]) for a in found]
        assert (
            "Setting desired instance count to 1.",
            f"monitor alarm {name}-HasBacklogWithoutCapacity in state ALARM",
        ) in causes
        assert any(
            d == "Setting desired instance count to 0." and "AlarmLow" in c for d, c in causes
        )
    finally:
        cloudwatch.delete_alarms(AlarmNames=[f"{name}-HasBacklogWithoutCapacity"])
        aas.deregister_scalable_target(**ids)
        sm.delete_endpoint(EndpointName=name)
