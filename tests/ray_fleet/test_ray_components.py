"""Inference components on a Ray cluster: moorage's scheduler picks the instance,
Ray the node, and every copy of one instance runs on that instance's node."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from support.components import component_endpoint, create_component, wait_component
from support.endpoints import create_model, delete
from support.ray_cluster import RayCluster
from support.ray_fleet import WHOLE_NODE, invoke, placements, ray_server

pytest.importorskip("ray", reason="Ray is not installed (pip install 'moorage[ray]')")


def test_component_copies_follow_the_scheduler_onto_their_instances_nodes(
    tmp_path: Path, cluster: RayCluster, toolbox_url: str
) -> None:
    with ray_server(tmp_path / "data", cluster) as server:
        sm = server.sagemaker
        component_endpoint(sm, "shared", instance_type=WHOLE_NODE, count=2)
        create_model(sm, "tool", toolbox_url)
        create_component(sm, "tool-ic", "shared", model="tool", copies=3, cpus=1, memory=1024)
        wait_component(sm, "tool-ic", timeout=180)
        runtime = server.client("sagemaker-runtime")
        pids = {
            invoke(runtime, "shared", InferenceComponentName="tool-ic")["pid"] for _ in range(40)
        }
        assert len(pids) == 3
        placed = placements(server)
        assert len(placed) == 3, placed
        nodes_of_instance: dict[str, set[str]] = defaultdict(set)
        copies_of_instance: dict[str, int] = defaultdict(int)
        for instance, node, _, _ in placed.values():
            nodes_of_instance[instance].add(node)
            copies_of_instance[instance] += 1
        # Two instances of 2 vCPUs each hold three 1-vCPU copies: 2 + 1.
        assert sorted(copies_of_instance.values()) == [1, 2], placed
        assert all(len(nodes) == 1 for nodes in nodes_of_instance.values()), placed
        assert len({next(iter(n)) for n in nodes_of_instance.values()}) == 2, placed
        sm.delete_inference_component(InferenceComponentName="tool-ic")
        delete(sm, "shared")
