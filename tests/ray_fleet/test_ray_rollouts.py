"""A blue/green canary update on a Ray cluster fails no request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.ray_cluster import RayCluster
from support.ray_fleet import HALF_NODE, ray_server, wait_for
from support.traffic import Traffic

pytest.importorskip("ray", reason="Ray is not installed (pip install 'moorage[ray]')")

CANARY = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "WaitIntervalInSeconds": 2,
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
        },
        "TerminationWaitInSeconds": 1,
    }
}


def _config(sm: Any, name: str, model: str) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("AllTraffic", model, count=2, InstanceType=HALF_NODE)],
    )


def test_canary_update_fails_no_request(tmp_path: Path, cluster: RayCluster) -> None:
    v1 = toolbox_archive(tmp_path / "v1" / "model.tar.gz", tag="v1").as_uri()
    v2 = toolbox_archive(tmp_path / "v2" / "model.tar.gz", tag="v2").as_uri()
    with ray_server(tmp_path / "data", cluster) as server:
        sm = server.sagemaker
        create_model(sm, "m1", v1)
        create_model(sm, "m2", v2)
        _config(sm, "c1", "m1")
        _config(sm, "c2", "m2")
        sm.create_endpoint(EndpointName="canary", EndpointConfigName="c1")
        wait_in_service(sm, "canary", attempts=240)
        runtime = server.client("sagemaker-runtime")
        with Traffic(runtime, "canary", clients=2) as traffic:
            time.sleep(0.5)
            before = time.monotonic()
            sm.update_endpoint(
                EndpointName="canary", EndpointConfigName="c2", DeploymentConfig=CANARY
            )

            def done() -> bool:
                described = sm.describe_endpoint(EndpointName="canary")
                return bool(
                    described["EndpointStatus"] == "InService"
                    and described["EndpointConfigName"] == "c2"
                )

            wait_for("the canary update", done, timeout=180)
            after = time.monotonic()
            time.sleep(0.5)
        assert traffic.failures == []
        assert traffic.tags_between(0, before) == {"v1"}
        assert traffic.tags_between(after, float("inf")) == {"v2"}
        delete(sm, "canary")
