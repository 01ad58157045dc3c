"""Rolling updates of inference components under constant traffic, with 1 s bakes.

Each test serves v1 from four copies, keeps eight clients invoking the
component without pause, and updates it to v2 with a ``DeploymentConfig``:
every request must be answered 2xx, whether the update completes or an
alarm on the component's own CloudWatch metrics rolls it back.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.components import (
    component_endpoint,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import delete
from support.names import unique
from support.rolling import PlacementWatch, spec, tagged_models, wait_update_done
from support.server import MoorageServer
from support.traffic import Traffic

COPIES = 4


def test_a_rolling_update_replaces_copies_in_batches_without_failing_a_request(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    endpoint, name = unique("icr-ep"), unique("icr")
    component_endpoint(esm, endpoint, instance_type="ml.m5.2xlarge")  # 8 vCPUs
    tagged_models(esm, tmp_path, name)
    create_component(esm, name, endpoint, model=f"{name}-v1", copies=COPIES, cpus=1)
    wait_component(esm, name)
    config = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 1,
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }
    with (
        Traffic(runtime, endpoint, InferenceComponentName=name) as traffic,
        PlacementWatch(serving, endpoint, name) as watch,
    ):
        time.sleep(0.5)
        before = time.monotonic()
        esm.update_inference_component(
            InferenceComponentName=name,
            Specification=spec(f"{name}-v2"),
            RuntimeConfig={"CopyCount": COPIES},
            DeploymentConfig=config,
        )
        described = esm.describe_inference_component(InferenceComponentName=name)
        assert described["InferenceComponentStatus"] == "Updating"
        final = wait_update_done(esm, name)
        after = time.monotonic()
        time.sleep(0.5)
    assert traffic.failures == []
    assert final["InferenceComponentStatus"] == "InService", final.get("FailureReason")
    assert final.get("FailureReason") is None
    assert final["Specification"]["ModelName"] == f"{name}-v2"
    assert final["RuntimeConfig"] == {"DesiredCopyCount": COPIES, "CurrentCopyCount": COPIES}
    assert final["LastDeploymentConfig"] == config
    assert traffic.tags_between(0, before) == {"v1"}
    assert traffic.tags_between(after, float("inf")) == {"v2"}
    # Both versions answered while the copies rolled over, one batch at a time.
    middle = [a.tag for a in traffic.answers if before < a.started and a.finished < after]
    assert {"v1", "v2"} <= set(middle)
    assert watch.most == COPIES + 1
    assert {(1, 1, 1, 1, 2), (1, 1, 2, 2, 2)} <= watch.seen
    # The same specification with a DeploymentConfig: one more copy at once,
    # and that config becomes LastDeploymentConfig once it runs.
    scaled = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
            "WaitIntervalInSeconds": 0,
        }
    }
    esm.update_inference_component(
        InferenceComponentName=name,
        Specification=spec(f"{name}-v2"),
        RuntimeConfig={"CopyCount": COPIES + 1},
        DeploymentConfig=scaled,
    )
    final = wait_update_done(esm, name)
    assert final["RuntimeConfig"]["DesiredCopyCount"] == COPIES + 1
    assert final["LastDeploymentConfig"] == scaled
    delete_component(esm, name)
    delete(esm, endpoint)


def _component_stat(cw: Any, name: str, metric: str, stat: str = "Sum") -> float:
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
        StartTime=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        Period=60,
        Statistics=[stat],
    )["Datapoints"]
    return float(sum(p[stat] for p in points))


def test_an_alarm_on_the_components_latency_rolls_the_update_back(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    cw = serving.client("cloudwatch")
    endpoint, name = unique("icr-ep"), unique("icr-alarm")
    component_endpoint(esm, endpoint, instance_type="ml.m5.2xlarge")
    # v2 answers correctly, but a quarter of a second late.
    tagged_models(esm, tmp_path, name, v2_delay=0.25)
    create_component(esm, name, endpoint, model=f"{name}-v1", copies=COPIES, cpus=1)
    wait_component(esm, name)

    # The component's own metrics: 8 answers and a model error, over 4 copies.
    for _ in range(8):
        runtime.invoke_endpoint(
            EndpointName=endpoint,
            InferenceComponentName=name,
            ContentType="application/json",
            Body=b"{}",
        )
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(
            EndpointName=endpoint,
            InferenceComponentName=name,
            ContentType="application/json",
            Body=b'{"op": "fail"}',
        )
    assert _component_stat(cw, name, "Invocations") == 9
    assert _component_stat(cw, name, "InvocationsPerCopy") == 9 / COPIES
    assert _component_stat(cw, name, "Invocation5XXErrors") == 1
    assert _component_stat(cw, name, "Invocation4XXErrors") == 0
    assert _component_stat(cw, name, "ModelLatency", "SampleCount") == 9
    assert _component_stat(cw, name, "OverheadLatency", "Maximum") > 0

    alarm = f"{name}-latency"
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=[{"Name": "InferenceComponentName", "Value": name}],
        Statistic="Maximum",
        Period=1,
        EvaluationPeriods=1,
        Threshold=150_000,  # microseconds
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    config = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 1,
            "RollbackMaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }
    with Traffic(runtime, endpoint, InferenceComponentName=name) as traffic:
        time.sleep(0.5)
        before = time.monotonic()
        esm.update_inference_component(
            InferenceComponentName=name,
            Specification=spec(f"{name}-v2"),
            RuntimeConfig={"CopyCount": COPIES},
            DeploymentConfig=config,
        )
        final = wait_update_done(esm, name)
        after = time.monotonic()
        time.sleep(0.5)
    assert traffic.failures == []
    assert final["InferenceComponentStatus"] == "InService"
    assert final["FailureReason"] == (
        f'The deployment was rolled back because alarm "{alarm}" went into ALARM state during '
        "a baking period."
    )
    assert final["Specification"]["ModelName"] == f"{name}-v1"
    assert final["RuntimeConfig"] == {"DesiredCopyCount": COPIES, "CurrentCopyCount": COPIES}
    assert "LastDeploymentConfig" not in final
    # v2 answered (slowly) until the alarm rolled it back; only v1 answers after.
    assert "v2" in {a.tag for a in traffic.answers if before < a.started < after}
    assert traffic.tags_between(after, float("inf")) == {"v1"}
    history = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    assert any(item["HistorySummary"].endswith("to ALARM") for item in history["AlarmHistoryItems"])
    cw.delete_alarms(AlarmNames=[alarm])
    delete_component(esm, name)
    delete(esm, endpoint)
