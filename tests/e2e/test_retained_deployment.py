"""RetainDeploymentConfig after a rollback, as AWS's deployment-guardrails notebooks use it.

The notebooks update an endpoint with a canary and rollback alarms, an alarm
fires and the update rolls back; then they update again with
``RetainDeploymentConfig=True`` expecting the same canary, bake included.
``LastDeploymentConfig`` is the latest update's config throughout.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from support import raw
from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service, wait_status
from support.names import unique
from support.rollouts import put_5xx_alarm
from support.server import MoorageServer
from support.traffic import Traffic

BAKE_S = 10


def _describe_until_done(
    sm: Any, name: str, timeout: float = 120.0
) -> tuple[dict[str, Any], list[tuple[float, dict[str, Any]]]]:
    """Poll until the update ends; returns the final description and every one seen."""
    seen: list[tuple[float, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
        seen.append((time.monotonic(), described))
        if described["EndpointStatus"] not in ("Updating", "RollingBack"):
            return described, seen
        time.sleep(0.2)
    raise AssertionError(f"{name} is still updating")


def _pending_status(described: dict[str, Any]) -> tuple[str, str] | None:
    pending = described.get("PendingDeploymentSummary")
    if not pending:
        return None
    status = pending["ProductionVariants"][0]["VariantStatus"][0]
    return str(status["Status"]), str(status["StatusMessage"])


def test_retained_canary_runs_again_after_a_rollback(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    cloudwatch = serving.client("cloudwatch")
    name = unique("retain")
    for version in ("v1", "v2", "v3"):
        url = toolbox_archive(tmp_path / f"{version}.tar.gz", version).as_uri()
        create_model(esm, f"{name}-{version}", url)
        esm.create_endpoint_config(
            EndpointConfigName=f"{name}-{version}",
            ProductionVariants=[variant("AllTraffic", f"{name}-{version}", count=2)],
        )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    wait_in_service(esm, name)
    assert "LastDeploymentConfig" not in esm.describe_endpoint(EndpointName=name)

    alarm = put_5xx_alarm(cloudwatch, name)
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": BAKE_S,
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }

    # 1. The canary rolls back: its alarm goes off during a bake.
    esm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=canary)
    updating = wait_status(esm, name, "Updating")
    assert updating["LastDeploymentConfig"] == canary
    deadline = time.monotonic() + 60
    while (status := _pending_status(esm.describe_endpoint(EndpointName=name))) is None or (
        status[0] != "Baking"
    ):
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing")
    rolled_back, _ = _describe_until_done(esm, name)
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == f"{name}-v1"
    assert f'alarm "{alarm}"' in rolled_back["FailureReason"]
    assert rolled_back["LastDeploymentConfig"] == canary
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="fixed")

    # 2. What a retained update would do: the same canary, bakes included.
    body = {
        "EndpointName": name,
        "EndpointConfigName": f"{name}-v3",
        "RetainDeploymentConfig": True,
    }
    reply = raw.request(
        serving.url,
        path="/moorage/plan",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 200, reply.body
    plan = reply.json()
    assert plan["Policy"] == "BLUE_GREEN/CANARY"
    assert plan["Alarms"] == [alarm]
    bakes = [(s["Name"], s["WaitSeconds"]) for s in plan["Steps"] if s["Bake"]]
    assert len(bakes) == 2
    canary_step, canary_wait = bakes[0]
    assert canary_step.startswith("Canary") and canary_wait == BAKE_S

    # 3. The retained update runs that canary under traffic.
    with Traffic(runtime, name) as traffic:
        started = time.monotonic()
        esm.update_endpoint(
            EndpointName=name, EndpointConfigName=f"{name}-v3", RetainDeploymentConfig=True
        )
        final, seen = _describe_until_done(esm, name)
        after = time.monotonic()
        time.sleep(0.5)
    assert traffic.failures == []
    assert final["EndpointStatus"] == "InService", final.get("FailureReason")
    assert final["EndpointConfigName"] == f"{name}-v3"
    assert "FailureReason" not in final
    assert final["LastDeploymentConfig"] == canary

    canary_bake = [(at, d) for at, d in seen if _pending_status(d) == ("Baking", canary_step)]
    assert canary_bake, [_pending_status(d) for _, d in seen]
    for _, described in canary_bake:
        assert described["LastDeploymentConfig"] == canary
        (pending,) = described["PendingDeploymentSummary"]["ProductionVariants"]
        # One new instance of two takes its share of the traffic.
        assert pending["CurrentInstanceCount"] == 1
        assert pending["CurrentWeight"] == 0.5
    baked_s = canary_bake[-1][0] - canary_bake[0][0]
    assert baked_s >= BAKE_S - 2, baked_s
    assert after - started >= 2 * BAKE_S
    # During the canary both fleets answered; afterwards only the new one.
    first, last = canary_bake[0][0], canary_bake[-1][0]
    assert traffic.tags_between(first, last) == {"v1", "v3"}
    assert traffic.tags_between(after, float("inf")) == {"v3"}

    cloudwatch.delete_alarms(AlarmNames=[alarm])
    delete(esm, name)
