"""Autoscaling real model servers, as a SageMaker guide's code does it, on a fast clock.

The server runs with ``--clock-speed 30``: a minute of its clock is two
real seconds, so the alarms of a target tracking policy on the predefined
``SageMakerVariantInvocationsPerInstance`` (AlarmHigh: 3 datapoints of a
minute; AlarmLow: 15) decide in about 6 and 30 real seconds, exactly as
they would in minutes on AWS. Model servers start and drain in real time.

1. Under load (two clients invoking without pause, far above the target of
   6 invocations per instance per minute) the variant scales out from 1 to
   its maximum of 3 instances.
2. With a trickle of one request a second (under 90 % of the target per
   instance), it scales back in to 1.
3. A scheduled action raises the minimum to 2, and the variant follows (the
   trickle goes on: the policy would scale in, the minimum holds it).

Throughout, no invocation fails: every change goes through
UpdateEndpointWeightsAndCapacities, which starts instances before they take
traffic and drains them before they stop.

An inference component's copies scale the same way, through
UpdateInferenceComponentRuntimeConfig: a step scaling policy on a CloudWatch
alarm (put into ALARM with SetAlarmState, as one tries a policy out) adds a
copy, and a scheduled action lowering the maximum removes it, under traffic.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

from support.archives import toolbox_archive
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import ROLE, create_endpoint, create_model, variant, wait_in_service
from support.names import unique
from support.server import MoorageServer
from support.traffic import Traffic

SPEED = ("--clock-speed", "30")
IDS = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/shop/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


class Trickle:
    """One invocation a second, every answer kept."""

    def __init__(self, runtime: Any, endpoint: str) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.failures: list[str] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="application/json", Body="{}"
                )["Body"].read()
                self.count += 1
            except Exception as exc:
                self.failures.append(repr(exc))

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def wait_instances(sm: Any, count: int, timeout: float) -> dict[str, Any]:
    """Until the variant is InService with ``count`` instances, desired and current."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sm.describe_endpoint(EndpointName="shop")
        v = described["ProductionVariants"][0]
        done = (
            described["EndpointStatus"] == "InService"
            and v["DesiredInstanceCount"] == count
            and v.get("CurrentInstanceCount") == count
        )
        if done:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(
                f"shop: {described['EndpointStatus']}, desired {v['DesiredInstanceCount']}, "
                f"current {v.get('CurrentInstanceCount')}; wanted {count}"
            )
        time.sleep(0.2)


def activities(aas: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = aas.describe_scaling_activities(**IDS)["ScalingActivities"]
    return found


def settled(aas: Any, timeout: float = 10.0) -> dict[str, str]:
    """Description → status of every activity, once none is in progress."""
    deadline = time.monotonic() + timeout
    while True:
        found = {a["Description"]: a["StatusCode"] for a in activities(aas)}
        if "InProgress" not in found.values() or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def server_now(sm: Any) -> float:
    """The server's clock, read from the creation time of a new resource."""
    probe = f"probe-{time.monotonic_ns()}"
    sm.create_model(
        ModelName=probe,
        PrimaryContainer={"Image": "probe", "ModelDataUrl": "file:///dev/null"},
        ExecutionRoleArn=ROLE,
    )
    return float(sm.describe_model(ModelName=probe)["CreationTime"].timestamp())


def test_scale_out_under_load_back_in_and_on_schedule(tmp_path: Path) -> None:
    server = MoorageServer(tmp_path / "data", extra_args=SPEED).start()
    try:
        sm = server.sagemaker
        runtime = server.client("sagemaker-runtime")
        aas = server.client("application-autoscaling")
        create_model(sm, "toolbox", toolbox_archive(tmp_path / "m.tar.gz").as_uri())
        create_endpoint(sm, "shop", [variant("AllTraffic", "toolbox")])
        wait_in_service(sm, "shop")

        # What every SageMaker autoscaling guide does after creating the endpoint.
        aas.register_scalable_target(**IDS, MinCapacity=1, MaxCapacity=3)
        policy = aas.put_scaling_policy(
            **IDS,
            PolicyName="invocations",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 6.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleOutCooldown": 60,
                "ScaleInCooldown": 60,
            },
        )
        high, low = (a["AlarmName"] for a in policy["Alarms"])

        with Traffic(runtime, "shop", clients=2) as load:
            wait_instances(sm, 3, timeout=90)
        assert load.failures == []
        out = activities(aas)[0]
        assert out["Description"] == "Setting desired instance count to 3."
        assert out["Cause"] == f"monitor alarm {high} in state ALARM triggered policy invocations"

        with Trickle(runtime, "shop") as trickle:
            wait_instances(sm, 1, timeout=120)
            back_in = activities(aas)[0]
            assert back_in["Description"] == "Setting desired instance count to 1."
            assert back_in["Cause"].startswith(f"monitor alarm {low} in state ALARM")
            assert settled(aas) == {
                "Setting desired instance count to 3.": "Successful",
                "Setting desired instance count to 1.": "Successful",
            }

            # The trickle goes on: the policy would scale in, the new minimum holds it.
            when = dt.datetime.fromtimestamp(server_now(sm) + 120, dt.UTC)
            aas.put_scheduled_action(
                **IDS,
                ScheduledActionName="peak",
                Schedule=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
                ScalableTargetAction={"MinCapacity": 2},
            )
            wait_instances(sm, 2, timeout=60)
            time.sleep(2)  # a clock minute: the policy, invoked again, does not go below it
            wait_instances(sm, 2, timeout=1)
        assert trickle.failures == [] and trickle.count > 10
        newest, bounds = activities(aas)[:2]
        assert bounds["Cause"] == "scheduled action name peak was triggered"
        assert bounds["Description"] == "Setting min capacity to 2"
        assert newest["Cause"] == "minimum capacity was set to 2"
        [target] = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 3)
    finally:
        server.stop()


def wait_copies(sm: Any, name: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_inference_component(InferenceComponentName=name)
        runtime = described["RuntimeConfig"]
        done = described["InferenceComponentStatus"] == "InService" and runtime == {
            "DesiredCopyCount": count,
            "CurrentCopyCount": count,
        }
        if done:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: {described['InferenceComponentStatus']}, {runtime}")
        time.sleep(0.2)


def test_component_copies_follow_a_step_policy_and_a_schedule(
    esm: Any, runtime: Any, serving: MoorageServer, tmp_path: Path
) -> None:
    endpoint = unique("as-ic-ep")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    model = unique("as-ic-model")
    create_model(esm, model, toolbox_archive(tmp_path / "a.tar.gz").as_uri())
    name = unique("as-ic")
    create_component(esm, name, endpoint, model=model, copies=1, cpus=1, memory=1024)
    wait_component(esm, name)
    aas = serving.client("application-autoscaling")
    cloudwatch = serving.client("cloudwatch")
    ids = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"inference-component/{name}",
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
    }
    aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=2)
    arn = aas.put_scaling_policy(
        **ids,
        PolicyName="add-a-copy",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "Cooldown": 0,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )["PolicyARN"]
    alarm = unique("as-ic-busy")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="ConcurrentRequestsPerCopy",
        Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=4,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )
    try:
        with Traffic(runtime, endpoint, clients=2, InferenceComponentName=name) as traffic:
            cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="try")
            wait_copies(esm, name, 2, timeout=90)
            cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="done")
            # An at() time already past runs at once: the maximum falls to 1.
            aas.put_scheduled_action(
                **ids,
                ScheduledActionName="shrink",
                Schedule="at(2020-01-01T00:00:00)",
                ScalableTargetAction={"MaxCapacity": 1},
            )
            wait_copies(esm, name, 1, timeout=90)
        assert traffic.failures == []
        assert len(traffic.answers) > 20
        found = aas.describe_scaling_activities(**ids)["ScalingActivities"]
        assert [a["Description"] for a in found] == [
            "Setting desired copy count to 1.",
            "Setting max capacity to 1",
            "Setting desired copy count to 2.",
        ]
        assert found[0]["Cause"] == "maximum capacity was set to 1"
        assert (
            found[2]["Cause"] == f"monitor alarm {alarm} in state ALARM triggered policy add-a-copy"
        )
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])
        aas.deregister_scalable_target(**ids)
