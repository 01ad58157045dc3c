"""Scale to zero and back with real model servers: held requests, serverless variants.

1. An inference component registered with ``MinCapacity`` 0 is scaled to 0
   copies; the next invocation is held while the autoscaling controller
   starts a copy, and answered. Several requests arriving at zero are all
   answered, in order. ``NoCapacityInvocationFailures`` counts them as on
   AWS, and ``ColdStartWaitTime`` records the wait.
2. With ``--hold-queue 0`` (AWS's behaviour) the first invocation fails, and
   AWS's documented step scaling policy on ``NoCapacityInvocationFailures``
   scales the component out of zero (fast clock: an alarm minute is two
   seconds).
3. A serverless variant starts its copy at creation, stops it when idle,
   starts one again for the next request (held), and throttles requests past
   ``MaxConcurrency`` with AWS's ``ThrottlingException``. With
   ``ProvisionedConcurrency`` its copy is never stopped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import create_model, wait_in_service
from support.names import unique
from support.server import MoorageServer

IDLE_S = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    data = tmp_path_factory.mktemp("zero-data")
    srv = MoorageServer(data, extra_args=("--serverless-idle", str(IDLE_S))).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return toolbox_archive(tmp_path_factory.mktemp("zero-model") / "model.tar.gz").as_uri()


def invoke(runtime: Any, endpoint: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=json.dumps(payload), **extra
    )
    found: dict[str, Any] = json.loads(answer["Body"].read())
    return found


def copy_count(sm: Any, name: str) -> tuple[str, int, int]:
    described = sm.describe_inference_component(InferenceComponentName=name)
    runtime = described["RuntimeConfig"]
    return (
        described["InferenceComponentStatus"],
        runtime["DesiredCopyCount"],
        runtime["CurrentCopyCount"],
    )


def wait_for(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def metric_sum(cloudwatch: Any, name: str, dims: dict[str, str]) -> float:
    now = time.time()
    found = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - 3600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    return float(sum(p["Sum"] for p in found))


def component_at_zero(server: MoorageServer, model_url: str) -> tuple[str, str]:
    """A component endpoint whose one component has a target with MinCapacity 0, at 0 copies."""
    sm = server.sagemaker
    endpoint = unique("zero-ep")
    component_endpoint(
        sm,
        endpoint,
        ManagedInstanceScaling={"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2},
    )
    model = unique("zero-model")
    create_model(sm, model, model_url)
    name = unique("zero-ic")
    create_component(sm, name, endpoint, model=model, copies=1)
    wait_component(sm, name)
    aas = server.client("application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"inference-component/{name}",
        ScalableDimension="sagemaker:inference-component:DesiredCopyCount",
        MinCapacity=0,
        MaxCapacity=2,
    )
    sm.update_inference_component_runtime_config(
        InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 0}
    )
    wait_for("0 copies", lambda: copy_count(sm, name) == ("InService", 0, 0), 60)
    # Managed instance scaling released the instance the copy was on.
    wait_for(
        "0 instances",
        lambda: (
            sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0].get(
                "CurrentInstanceCount"
            )
            == 0
        ),
        30,
    )
    return endpoint, name


def test_a_request_at_zero_copies_is_held_while_a_copy_starts(
    server: MoorageServer, model_url: str
) -> None:
    sm = server.sagemaker
    runtime = server.client("sagemaker-runtime", read_timeout=120)
    endpoint, name = component_at_zero(server, model_url)

    answers: list[tuple[int, dict[str, Any]]] = []
    failures: list[str] = []

    def one(index: int) -> None:
        try:
            answer = invoke(runtime, endpoint, {"n": index}, InferenceComponentName=name)
            answers.append((index, answer))
        except Exception as exc:
            failures.append(repr(exc))

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(i for i, _ in answers) == [0, 1, 2, 3]
    assert all(answer["data"] == {"n": i} for i, answer in answers)
    assert time.monotonic() - started < 60
    assert copy_count(sm, name) == ("InService", 1, 1)

    aas = server.client("application-autoscaling")
    [activity] = aas.describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=f"inference-component/{name}"
    )["ScalingActivities"]
    assert activity["Description"] == "Setting desired copy count to 1."
    assert activity["Cause"] == (
        f"an invocation arrived for inference-component/{name} while its capacity was 0"
    )
    wait_for(
        "the activity to succeed",
        lambda: (
            aas.describe_scaling_activities(
                ServiceNamespace="sagemaker", ResourceId=f"inference-component/{name}"
            )["ScalingActivities"][0]["StatusCode"]
            == "Successful"
        ),
        30,
    )

    cloudwatch = server.client("cloudwatch")
    component = {"InferenceComponentName": name}
    assert metric_sum(cloudwatch, "NoCapacityInvocationFailures", component) >= 4
    waits = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ColdStartWaitTime",
        Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
        StartTime=time.time() - 3600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in waits) == 4
    assert 0 < max(p["Maximum"] for p in waits) < 60e6

    # Warm now: a request is neither held nor counted.
    counted = metric_sum(cloudwatch, "NoCapacityInvocationFailures", component)
    invoke(runtime, endpoint, {"n": 9}, InferenceComponentName=name)
    assert metric_sum(cloudwatch, "NoCapacityInvocationFailures", component) == counted


def test_without_a_target_a_component_at_zero_fails_at_once(
    server: MoorageServer, model_url: str
) -> None:
    sm = server.sagemaker
    runtime = server.client("sagemaker-runtime")
    endpoint = unique("zero-plain")
    component_endpoint(sm, endpoint)
    model = unique("zero-plain-model")
    create_model(sm, model, model_url)
    name = unique("zero-plain-ic")
    create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    started = time.monotonic()
    with pytest.raises(ClientError) as caught:
        invoke(runtime, endpoint, {}, InferenceComponentName=name)
    assert time.monotonic() - started < 5
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "the copy count of inference component" in caught.value.response["Error"]["Message"]
    cloudwatch = server.client("cloudwatch")
    dims = {"InferenceComponentName": name}
    assert metric_sum(cloudwatch, "NoCapacityInvocationFailures", dims) == 1


def serverless_endpoint(
    server: MoorageServer, model_url: str, **config: int
) -> tuple[str, dict[str, Any]]:
    sm = server.sagemaker
    name = unique("sls")
    create_model(sm, name, model_url)
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 2, **config}
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": serverless}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)
    return name, serverless


def test_a_serverless_variant_stops_when_idle_and_starts_on_the_next_request(
    server: MoorageServer, model_url: str
) -> None:
    runtime = server.client("sagemaker-runtime", read_timeout=120)
    endpoint, config = serverless_endpoint(server, model_url)
    described = server.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["ProductionVariants"][0]["CurrentServerlessConfig"] == config

    first = invoke(runtime, endpoint, {"op": "echo"})["pid"]
    assert psutil.pid_exists(first)
    # Idle for longer than --serverless-idle: the copy is drained and stopped.
    wait_for("the idle copy to stop", lambda: not psutil.pid_exists(first), IDLE_S + 30)
    # The next request is held while a new copy starts, and answered.
    second = invoke(runtime, endpoint, {"op": "echo"})["pid"]
    assert second != first
    cloudwatch = server.client("cloudwatch")
    waits = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ColdStartWaitTime",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=time.time() - 3600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["SampleCount"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in waits) == 1

    # MaxConcurrency 2: two sleeping requests run, the third is throttled.
    outcomes: list[str] = []

    def sleep() -> None:
        try:
            invoke(runtime, endpoint, {"op": "sleep", "seconds": 6})
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    sleepers = [threading.Thread(target=sleep) for _ in range(2)]
    for thread in sleepers:
        thread.start()
    time.sleep(2)  # both admitted long before their 6 s are over
    with pytest.raises(ClientError) as caught:
        invoke(runtime, endpoint, {"op": "echo"})
    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "MaxConcurrency of 2" in error["Error"]["Message"]
    for thread in sleepers:
        thread.join(timeout=30)
    assert outcomes == ["ok", "ok"]
    assert invoke(runtime, endpoint, {"op": "echo"})["pid"] == second


def test_provisioned_concurrency_keeps_a_serverless_copy_warm(
    server: MoorageServer, model_url: str
) -> None:
    runtime = server.client("sagemaker-runtime")
    endpoint, _ = serverless_endpoint(server, model_url, ProvisionedConcurrency=1)
    pid = invoke(runtime, endpoint, {})["pid"]
    time.sleep(IDLE_S + 3)
    assert psutil.pid_exists(pid)
    assert invoke(runtime, endpoint, {})["pid"] == pid


def test_aws_step_scaling_from_zero_with_holding_off(tmp_path: Path, model_url: str) -> None:
    server = MoorageServer(
        tmp_path / "data", extra_args=("--hold-queue", "0", "--clock-speed", "30")
    ).start()
    try:
        sm = server.sagemaker
        runtime = server.client("sagemaker-runtime")
        endpoint, name = component_at_zero(server, model_url)
        aas = server.client("application-autoscaling")
        ids = {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"inference-component/{name}",
            "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        }
        # The policy and alarm of AWS's "scale an endpoint to zero instances" guide.
        arn = aas.put_scaling_policy(
            **ids,
            PolicyName="from-zero",
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity",
                "MetricAggregationType": "Maximum",
                "Cooldown": 60,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        )["PolicyARN"]
        server.client("cloudwatch").put_metric_alarm(
            AlarmName=f"{name}-from-zero",
            AlarmActions=[arn],
            MetricName="NoCapacityInvocationFailures",
            Namespace="AWS/SageMaker",
            Statistic="Maximum",
            Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
            Period=30,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="missing",
        )
        with pytest.raises(ClientError) as caught:
            invoke(runtime, endpoint, {}, InferenceComponentName=name)
        assert caught.value.response["Error"]["Code"] == "ValidationError"
        wait_for("a copy", lambda: copy_count(sm, name) == ("InService", 1, 1), 90)
        assert invoke(runtime, endpoint, {"x": 1}, InferenceComponentName=name)["data"] == {"x": 1}
        [activity] = aas.describe_scaling_activities(**ids)["ScalingActivities"]
        assert activity["Cause"].endswith("in state ALARM triggered policy from-zero")
    finally:
        server.stop()
