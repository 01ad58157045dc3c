"""Inference components: a new specification under load, accelerator devices, restarts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from support.archives import toolbox_archive, write_archive
from support.components import (
    component_endpoint,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import create_model, delete
from support.names import unique
from support.raw import request
from support.server import MoorageServer, running
from support.traffic import Traffic

# A model that answers with the accelerator variables its process was started with.
DEVICES = {
    "code/inference.py": """
        import os


        def model_fn(model_dir):
            return None


        def predict_fn(data, model):
            names = ("CUDA_VISIBLE_DEVICES", "NEURON_RT_VISIBLE_CORES")
            return {name: os.environ.get(name) for name in names}
    """
}


def test_a_new_specification_replaces_every_copy_without_failing_a_request(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    endpoint = unique("ic-spec")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    old, new = unique("ic-v1"), unique("ic-v2")
    create_model(esm, old, toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(esm, new, toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    name = unique("ic-versioned")
    create_component(esm, name, endpoint, model=old, copies=2, cpus=1)
    wait_component(esm, name)
    with Traffic(runtime, endpoint, clients=4, InferenceComponentName=name) as traffic:
        time.sleep(0.5)
        esm.update_inference_component(
            InferenceComponentName=name,
            Specification={
                "ModelName": new,
                "ComputeResourceRequirements": {
                    "NumberOfCpuCoresRequired": 1,
                    "MinMemoryRequiredInMb": 1024,
                },
            },
            RuntimeConfig={"CopyCount": 2},
        )
        updated = time.monotonic()
        described = wait_component(esm, name)
        switched = time.monotonic()
        time.sleep(1.0)
    assert traffic.failures == []
    assert traffic.tags_between(0, updated) == {"v1"}
    assert traffic.tags_between(switched, time.monotonic()) == {"v2"}
    assert described["Specification"]["ModelName"] == new
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 2, "CurrentCopyCount": 2}
    delete_component(esm, name)
    delete(esm, endpoint)


def test_copies_see_only_their_accelerator_devices(esm: Any, runtime: Any, tmp_path: Path) -> None:
    model = unique("ic-devices")
    create_model(esm, model, write_archive(tmp_path / "devices.tar.gz", DEVICES).as_uri())
    seen: dict[str, set[tuple[str | None, str | None]]] = {}
    for instance_type in ("ml.g5.12xlarge", "ml.inf2.24xlarge"):  # 4 GPUs; 6 Inferentia2
        endpoint = unique("ic-accel")
        component_endpoint(esm, endpoint, instance_type=instance_type)
        name = unique("ic-accel")
        esm.create_inference_component(
            InferenceComponentName=name,
            EndpointName=endpoint,
            Specification={
                "ModelName": model,
                "ComputeResourceRequirements": {
                    "NumberOfCpuCoresRequired": 1,
                    "NumberOfAcceleratorDevicesRequired": 2,
                    "MinMemoryRequiredInMb": 1024,
                },
            },
            RuntimeConfig={"CopyCount": 2},
        )
        wait_component(esm, name)
        answers = set()
        for _ in range(20):
            reply = runtime.invoke_endpoint(
                EndpointName=endpoint,
                InferenceComponentName=name,
                ContentType="application/json",
                Body=b"{}",
            )
            body = json.loads(reply["Body"].read())
            answers.add((body["CUDA_VISIBLE_DEVICES"], body["NEURON_RT_VISIBLE_CORES"]))
        seen[instance_type] = answers
        delete_component(esm, name)
        delete(esm, endpoint)
    assert seen["ml.g5.12xlarge"] == {("0,1", None), ("2,3", None)}
    # Inferentia2: 2 NeuronCores per device.
    assert seen["ml.inf2.24xlarge"] == {(None, "0-3"), (None, "4-7")}


def test_a_restarted_server_resumes_its_components(tmp_path: Path) -> None:
    url = toolbox_archive(tmp_path / "model.tar.gz", "kept").as_uri()
    with running(tmp_path / "data") as first:
        sm = first.sagemaker
        component_endpoint(sm, "ep", instance_type="ml.m5.large")
        create_model(sm, "model", url)
        create_component(sm, "kept", "ep", model="model", copies=2, cpus=0.5)
        wait_component(sm, "kept")
        before = _placement(first)
    with running(tmp_path / "data") as second:
        sm = second.sagemaker
        runtime = second.client("sagemaker-runtime")
        deadline = time.monotonic() + 30
        while True:
            described = sm.describe_inference_component(InferenceComponentName="kept")
            if described["RuntimeConfig"]["CurrentCopyCount"] == 2:
                break
            assert time.monotonic() < deadline, described
            time.sleep(0.1)
        assert described["InferenceComponentStatus"] == "InService"
        assert _placement(second) == before
        reply = runtime.invoke_endpoint(
            EndpointName="ep", InferenceComponentName="kept", Body=b'{"op": "echo"}'
        )
        assert json.loads(reply["Body"].read())["tag"] == "kept"


def _placement(server: MoorageServer) -> Any:
    reply = request(server.url, "GET", "/moorage/placement/ep")
    assert reply.status == 200, reply.body
    return reply.json()["variants"]
