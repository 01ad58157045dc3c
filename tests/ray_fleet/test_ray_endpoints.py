"""Endpoints on a Ray cluster: instances on distinct nodes, answered through the router."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.endpoints import create_model, delete, variant, wait_in_service, wait_status
from support.ray_cluster import RayCluster
from support.ray_fleet import WHOLE_NODE, invoke, placements, ray_server, wait_for

pytest.importorskip("ray", reason="Ray is not installed (pip install 'moorage[ray]')")


def test_two_instances_land_on_two_nodes_and_only_the_router_gets_in(
    tmp_path: Path, cluster: RayCluster, toolbox_url: str
) -> None:
    with ray_server(tmp_path / "data", cluster) as server:
        sm = server.sagemaker
        create_model(sm, "spread", toolbox_url)
        sm.create_endpoint_config(
            EndpointConfigName="spread",
            ProductionVariants=[variant("AllTraffic", "spread", count=2, InstanceType=WHOLE_NODE)],
        )
        sm.create_endpoint(EndpointName="spread", EndpointConfigName="spread")
        wait_in_service(sm, "spread", attempts=240)
        runtime = server.client("sagemaker-runtime")
        pids = {invoke(runtime, "spread")["pid"] for _ in range(20)}
        assert len(pids) == 2
        placed = placements(server)
        assert len(placed) == 2, placed
        assert len({node for _, node, _, _ in placed.values()}) == 2, placed
        described = sm.describe_endpoint(EndpointName="spread")
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
        # The copies' output, from the nodes, is served by the Logs API.
        logs = server.client("logs")

        def logged() -> set[str]:
            events = logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/spread")
            return {e["logStreamName"] for e in events["events"] if "listening on" in e["message"]}

        wait_for("the model servers' output", lambda: len(logged()) == 2, timeout=30)
        # A copy on the network refuses whoever does not have its secret.
        _, _, host, port = next(iter(placed.values()))
        for headers in ({}, {"x-moorage-copy-secret": "guess"}):
            request = urllib.request.Request(
                f"http://{host}:{port}/invocations",
                data=json.dumps({"op": "echo"}).encode(),
                headers={"Content-Type": "application/json", **headers},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 403
        delete(sm, "spread")


def test_an_instance_no_node_can_hold_stays_creating_then_fails(
    tmp_path: Path, cluster: RayCluster, toolbox_url: str
) -> None:
    with ray_server(tmp_path / "data", cluster) as server:
        sm = server.sagemaker
        create_model(sm, "huge", toolbox_url)
        sm.create_endpoint_config(
            EndpointConfigName="huge",
            ProductionVariants=[
                variant(
                    "AllTraffic",
                    "huge",
                    InstanceType="ml.c5.4xlarge",
                    ContainerStartupHealthCheckTimeoutInSeconds=60,
                )
            ],
        )
        sm.create_endpoint(EndpointName="huge", EndpointConfigName="huge")
        server_said = "waits for a Ray node with room for 16 CPU, 32768 MiB memory"
        wait_for("the server to say why", lambda: any(server_said in x for x in server.output))
        assert sm.describe_endpoint(EndpointName="huge")["EndpointStatus"] == "Creating"
        failed = wait_status(sm, "huge", "Failed", timeout=120)
        assert "No Ray node has room for ml.c5.4xlarge" in failed["FailureReason"]
        assert "16 CPU, 32768 MiB memory" in failed["FailureReason"]
        sm.delete_endpoint(EndpointName="huge")
