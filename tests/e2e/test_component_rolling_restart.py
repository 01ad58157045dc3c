"""A rolling update of an inference component survives a killed server.

The update's state is stored before anything is started or stopped, so a
server killed with SIGKILL in the middle of a bake starts every placed copy
again on restart and carries on with the same step (its bake starts over).
A rollback alarm forced into ALARM with SetAlarmState then rolls it back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from support.components import component_endpoint, create_component, wait_component
from support.names import unique
from support.processes import wait_dead
from support.rolling import rolling_update, spec, tagged_models, wait_step, wait_update_done
from support.server import running
from support.traffic import Traffic


def test_a_killed_server_resumes_the_rolling_update(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = unique("icr-restart")
    alarm = f"{name}-guard"
    with running(data) as first:
        sm, runtime, cw = (
            first.sagemaker,
            first.client("sagemaker-runtime"),
            first.client("cloudwatch"),
        )
        component_endpoint(sm, "ep", instance_type="ml.m5.2xlarge")
        tagged_models(sm, tmp_path, name)
        create_component(sm, name, "ep", model=f"{name}-v1", copies=4, cpus=1)
        wait_component(sm, name)
        cw.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )
        sm.update_inference_component(
            InferenceComponentName=name,
            Specification=spec(f"{name}-v2"),
            RuntimeConfig={"CopyCount": 4},
            DeploymentConfig={
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                    "WaitIntervalInSeconds": 2,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
            },
        )
        wait_step(first, "ep", name, "Batch 2: shift traffic")
        pids = set()
        for _ in range(40):
            reply = runtime.invoke_endpoint(
                EndpointName="ep",
                InferenceComponentName=name,
                ContentType="application/json",
                Body=b"{}",
            )
            pids.add(json.loads(reply["Body"].read())["pid"])
        # On a loaded machine the 2 s bake may be over by now: the step the server dies in.
        dying = rolling_update(first, "ep", name)
        first.kill9()
    assert len(pids) == 4
    assert wait_dead(pids) == set(), "model servers outlived the killed server"

    with running(data) as second:
        sm, runtime, cw = (
            second.sagemaker,
            second.client("sagemaker-runtime"),
            second.client("cloudwatch"),
        )
        described = sm.describe_inference_component(InferenceComponentName=name)
        assert described["InferenceComponentStatus"] == "Updating"
        # Every placed copy starts again; the step is the one the server died in.
        assert rolling_update(second, "ep", name)["step"] == dying["step"]
        deadline = time.monotonic() + 30
        while described["RuntimeConfig"]["CurrentCopyCount"] < 4:
            assert time.monotonic() < deadline, described
            time.sleep(0.1)
            described = sm.describe_inference_component(InferenceComponentName=name)
        with Traffic(runtime, "ep", InferenceComponentName=name) as traffic:
            wait_step(second, "ep", name, "Batch 3: shift traffic")
            cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing")
            final = wait_update_done(sm, name)
            after = time.monotonic()
            time.sleep(0.5)
        assert traffic.failures == []
        assert final["InferenceComponentStatus"] == "InService"
        assert final["Specification"]["ModelName"] == f"{name}-v1"
        assert alarm in final["FailureReason"]
        assert traffic.tags_between(after, float("inf")) == {"v1"}
        assert {"v1", "v2"} <= {a.tag for a in traffic.answers if a.finished < after}
