"""UpdateEndpoint under constant traffic: every policy, zero failed requests.

Each test serves version v1 on two instances, starts eight clients invoking
without pause, updates to v2 and checks that every request was answered 2xx,
that requests sent before the update were answered by v1 and requests sent
after it completed by v2.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import failing_model_archive, toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service, wait_status
from support.names import unique
from support.processes import copies_running, wait_dead
from support.rollouts import canary_config, put_5xx_alarm
from support.server import running
from support.traffic import Traffic

WAIT = 1


def _setup(sm: Any, tmp_path: Path, *, count: int = 2, green_count: int = 2) -> str:
    name = unique("rollout")
    create_model(sm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(sm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[variant("AllTraffic", f"{name}-v1", count=count)],
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c2",
        ProductionVariants=[variant("AllTraffic", f"{name}-v2", count=green_count)],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(sm, name)
    return name


def _watch(sm: Any, name: str, timeout: float = 90.0) -> tuple[dict[str, Any], set[str]]:
    """Poll until the update ends; returns the final description and the statuses seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
        pending = described.get("PendingDeploymentSummary")
        if pending:
            for v in pending["ProductionVariants"]:
                seen.update(s["Status"] for s in v.get("VariantStatus", []))
        if described["EndpointStatus"] not in ("Updating", "RollingBack"):
            return described, seen
        time.sleep(0.1)
    raise AssertionError(f"{name} is still updating")


POLICIES = {
    "all-at-once": {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": WAIT},
            "TerminationWaitInSeconds": 1,
        }
    },
    "canary": {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": WAIT,
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            }
        }
    },
    "linear": {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": WAIT,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            }
        }
    },
    "rolling": {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": WAIT,
        }
    },
    "default": None,
}


@pytest.mark.parametrize("policy", list(POLICIES))
def test_update_under_traffic_fails_no_request(
    esm: Any, runtime: Any, tmp_path: Path, policy: str
) -> None:
    name = _setup(esm, tmp_path)
    config = POLICIES[policy]
    extra = {"DeploymentConfig": config} if config else {}
    with Traffic(runtime, name) as traffic:
        time.sleep(0.5)
        before = time.monotonic()
        esm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c2", **extra)
        assert esm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
        final, seen = _watch(esm, name)
        after = time.monotonic()
        time.sleep(0.5)
    assert traffic.failures == []
    assert final["EndpointStatus"] == "InService", final.get("FailureReason")
    assert final["EndpointConfigName"] == f"{name}-c2"
    assert final.get("FailureReason") is None
    assert "PendingDeploymentSummary" not in final
    assert final.get("LastDeploymentConfig") == config
    assert traffic.tags_between(0, before) == {"v1"}
    assert traffic.tags_between(after, float("inf")) == {"v2"}
    assert "Creating" in seen
    if config is not None:
        assert "Baking" in seen
    (summary,) = final["ProductionVariants"]
    assert summary["CurrentInstanceCount"] == 2
    delete(esm, name)


def test_alarm_during_canary_bake_rolls_back(
    serving: Any, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    cloudwatch = serving.client("cloudwatch")
    name = _setup(esm, tmp_path)
    alarm = put_5xx_alarm(cloudwatch, name)
    config = canary_config(alarm, 60)
    with Traffic(runtime, name) as traffic:
        esm.update_endpoint(
            EndpointName=name, EndpointConfigName=f"{name}-c2", DeploymentConfig=config
        )
        wait_status(esm, name, "Updating")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = esm.describe_endpoint(EndpointName=name).get("PendingDeploymentSummary")
            statuses = pending["ProductionVariants"][0]["VariantStatus"] if pending else []
            if any(s["Status"] == "Baking" for s in statuses):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        assert "v2" in {a.tag for a in traffic.answers[-200:]}
        # During the deployment the new fleet has metrics of its own.
        fleet = [
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "AllTraffic"},
            {"Name": "EndpointConfigName", "Value": f"{name}-c2"},
        ]
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=fleet,
            StartTime=time.time() - 300,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Sum"],
        )
        assert sum(p["Sum"] for p in stats["Datapoints"]) > 0
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing")
        final, _ = _watch(esm, name)
        after = time.monotonic()
        time.sleep(0.5)
    assert traffic.failures == []
    assert final["EndpointStatus"] == "InService"
    assert final["EndpointConfigName"] == f"{name}-c1"
    assert alarm in final["FailureReason"]
    assert traffic.tags_between(after, float("inf")) == {"v1"}
    cloudwatch.delete_alarms(AlarmNames=[alarm])
    delete(esm, name)


def test_new_fleet_that_cannot_start_rolls_back(esm: Any, runtime: Any, tmp_path: Path) -> None:
    name = _setup(esm, tmp_path)
    create_model(esm, f"{name}-bad", failing_model_archive(tmp_path / "bad.tar.gz").as_uri())
    esm.create_endpoint_config(
        EndpointConfigName=f"{name}-bad",
        ProductionVariants=[variant("AllTraffic", f"{name}-bad", count=2)],
    )
    with Traffic(runtime, name) as traffic:
        esm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-bad")
        final, _ = _watch(esm, name)
    assert traffic.failures == []
    assert final["EndpointStatus"] == "InService"
    assert final["EndpointConfigName"] == f"{name}-c1"
    assert "weights are corrupt" in final["FailureReason"]
    assert {a.tag for a in traffic.answers} == {"v1"}
    delete(esm, name)


def test_weights_and_capacities_scale_in_and_out_under_traffic(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = _setup(esm, tmp_path, count=3)
    with Traffic(runtime, name) as traffic:
        esm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
        )
        shrunk, _ = _watch(esm, name)
        esm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[
                {"VariantName": "AllTraffic", "DesiredInstanceCount": 2, "DesiredWeight": 0.5}
            ],
        )
        grown, _ = _watch(esm, name)
    assert traffic.failures == []
    (small,) = shrunk["ProductionVariants"]
    assert (small["CurrentInstanceCount"], small["DesiredInstanceCount"]) == (1, 1)
    (large,) = grown["ProductionVariants"]
    assert (large["CurrentInstanceCount"], large["DesiredInstanceCount"]) == (2, 2)
    assert (large["CurrentWeight"], large["DesiredWeight"]) == (0.5, 0.5)
    assert grown["EndpointConfigName"] == f"{name}-c1"
    delete(esm, name)


def test_scale_out_while_retired_instances_still_drain(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    # Instances 1 and 2 are retired by the scale-in but keep draining slow
    # requests when instance 1 is wanted again: its new copy must not be
    # taken for the draining one (same endpoint, group and index).
    name = _setup(esm, tmp_path, count=3)
    body = json.dumps({"op": "sleep", "seconds": 4}).encode()

    def slow() -> int:
        reply = runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=body
        )
        return int(reply["ResponseMetadata"]["HTTPStatusCode"])

    with ThreadPoolExecutor(max_workers=9) as pool:
        slow_requests = [pool.submit(slow) for _ in range(9)]
        time.sleep(1.0)  # all in flight, on all three instances
        esm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
        )
        _watch(esm, name)
        esm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
        )
        grown, _ = _watch(esm, name, timeout=45)
        assert [r.result() for r in slow_requests] == [200] * 9
    (large,) = grown["ProductionVariants"]
    assert (large["CurrentInstanceCount"], large["DesiredInstanceCount"]) == (2, 2)
    # The drained copies stop; exactly the two wanted ones keep running, and
    # the new one was not stopped in the old one's place.
    deadline = time.monotonic() + 20
    while len(running := copies_running(f"{name}-")) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(running) == 2, running
    described = esm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    time.sleep(2)
    assert copies_running(f"{name}-") == running  # nothing restarted
    for _ in range(6):
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=b'{"op": "echo"}'
        )
    delete(esm, name)


def test_update_rules(esm: Any, tmp_path: Path) -> None:
    name = _setup(esm, tmp_path)

    def refused(**params: Any) -> str:
        with pytest.raises(ClientError) as caught:
            esm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c2", **params)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        return str(caught.value.response["Error"]["Message"])

    both = {**POLICIES["canary"], **POLICIES["rolling"]}  # type: ignore[dict-item]
    assert "not both" in refused(DeploymentConfig=both)
    linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 0,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 60},
            }
        }
    }
    assert "LinearStepSize" in refused(DeploymentConfig=linear)
    slow = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 3600},
            "TerminationWaitInSeconds": 3600,
            "MaximumExecutionTimeoutInSeconds": 3600,
        }
    }
    assert "MaximumExecutionTimeoutInSeconds" in refused(DeploymentConfig=slow)

    esm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c2")
    message = refused()
    assert message == (
        f'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:'
        f'endpoint/{name.lower()}".'
    )
    with pytest.raises(ClientError) as caught:
        esm.delete_endpoint(EndpointName=name)
    assert "Cannot delete in-progress endpoint" in caught.value.response["Error"]["Message"]
    _watch(esm, name)

    for desired, needle in (
        ([{"VariantName": "Nope", "DesiredWeight": 1.0}], '"Nope"'),
        (
            [
                {"VariantName": "AllTraffic", "DesiredWeight": 1.0},
                {"VariantName": "AllTraffic", "DesiredWeight": 2.0},
            ],
            "more than once",
        ),
    ):
        with pytest.raises(ClientError) as caught:
            esm.update_endpoint_weights_and_capacities(
                EndpointName=name, DesiredWeightsAndCapacities=desired
            )
        assert needle in caught.value.response["Error"]["Message"]
    delete(esm, name)


def test_server_killed_mid_deployment_resumes_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 3,
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            }
        }
    }
    with running(data) as first:
        sm, runtime = first.sagemaker, first.client("sagemaker-runtime")
        name = _setup(sm, tmp_path)
        sm.update_endpoint(
            EndpointName=name, EndpointConfigName=f"{name}-c2", DeploymentConfig=config
        )
        deadline = time.monotonic() + 60
        pids: set[int] = set()
        while time.monotonic() < deadline and len(pids) < 3:
            reply = runtime.invoke_endpoint(
                EndpointName=name, ContentType="application/json", Body='{"op": "echo"}'
            )
            pids.add(json.loads(reply["Body"].read())["pid"])
        assert len(pids) == 3  # two old instances and the canary
        first.kill9()
    assert wait_dead(pids) == set(), "model servers outlived the killed server"

    with running(data) as second:
        sm, runtime = second.sagemaker, second.client("sagemaker-runtime")
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
        with Traffic(runtime, name) as traffic:
            final, _ = _watch(sm, name)
            after = time.monotonic()
            time.sleep(0.5)
        assert final["EndpointStatus"] == "InService"
        assert final["EndpointConfigName"] == f"{name}-c2"
        assert traffic.tags_between(after, float("inf")) == {"v2"}
        # While the fleets came back, requests could find no healthy instance
        # (503); none may have reached a dead one or failed otherwise.
        assert all("ServiceUnavailable" in f for f in traffic.failures), traffic.failures[:3]
