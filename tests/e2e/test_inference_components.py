"""Inference components with real model servers: several models on one endpoint,
copy counts changed under load, managed instance scaling."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.components import (
    component_endpoint,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import IMAGE, create_model, delete, deploy
from support.names import unique
from support.server import MoorageServer
from support.traffic import Traffic

BIN = Path(sys.executable).parent


def invoke(runtime: Any, endpoint: str, component: str, **body: Any) -> dict[str, Any]:
    reply = runtime.invoke_endpoint(
        EndpointName=endpoint,
        InferenceComponentName=component,
        ContentType="application/json",
        Body=json.dumps({"op": "echo", **body}),
    )
    answer: dict[str, Any] = json.loads(reply["Body"].read())
    answer["variant"] = reply["InvokedProductionVariant"]
    return answer


def pids(runtime: Any, endpoint: str, component: str, requests: int = 30) -> set[int]:
    return {invoke(runtime, endpoint, component)["pid"] for _ in range(requests)}


def placement(serving: MoorageServer, endpoint: str, *options: str) -> str:
    done = subprocess.run(
        [
            str(BIN / "moorage"),
            "placement",
            endpoint,
            "--url",
            serving.url,
            "--data-dir",
            str(serving.data_dir),
            *options,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_two_models_on_one_endpoint(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    endpoint = unique("ic-two")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")  # 4 vCPUs, 16384 MB
    model_a = unique("ic-model-a")
    create_model(esm, model_a, toolbox_archive(tmp_path / "a.tar.gz", "A").as_uri())
    first, second = unique("ic-first"), unique("ic-second")
    create_component(esm, first, endpoint, model=model_a, copies=1, cpus=1, memory=2048)
    # The second names its container directly, with an environment of its own.
    esm.create_inference_component(
        InferenceComponentName=second,
        EndpointName=endpoint,
        VariantName="AllTraffic",
        Specification={
            "Container": {
                "Image": IMAGE,
                "ArtifactUrl": toolbox_archive(tmp_path / "b.tar.gz", "B").as_uri(),
                "Environment": {"TOOLBOX_ENV": "from-the-component"},
            },
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 0.5,
                "MinMemoryRequiredInMb": 1024,
            },
        },
        RuntimeConfig={"CopyCount": 2},
    )
    wait_component(esm, first)
    described = wait_component(esm, second)
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 2, "CurrentCopyCount": 2}
    image = described["Specification"]["Container"]["DeployedImage"]
    assert image["ResolvedImage"].startswith("moorage-model-server")

    answer = invoke(runtime, endpoint, first)
    assert (answer["tag"], answer["variant"], answer["env"]) == ("A", "AllTraffic", None)
    answer = invoke(runtime, endpoint, second)
    assert (answer["tag"], answer["env"]) == ("B", "from-the-component")
    assert len(pids(runtime, endpoint, second)) == 2
    streamed = runtime.invoke_endpoint_with_response_stream(
        EndpointName=endpoint,
        InferenceComponentName=second,
        ContentType="application/json",
        Body=json.dumps({"op": "stream", "n": 3}),
    )
    parts = b"".join(e["PayloadPart"]["Bytes"] for e in streamed["Body"] if "PayloadPart" in e)
    assert parts == b"chunk-0;chunk-1;chunk-2;"
    assert pids(runtime, endpoint, first).isdisjoint(pids(runtime, endpoint, second))

    table = placement(serving, endpoint)
    assert "\ninstance-1 " in table and " ml.m5.xlarge " in table
    assert f"  {first}-1" in table and f"  {second}-2" in table
    assert "vCPUs 2/4, memory 4096/16384 MB" in table
    document = json.loads(placement(serving, endpoint, "--json"))
    assert document["variants"][0]["instances"][0]["vcpus"] == {"total": 4, "used": 2, "free": 2}

    # A component that does not fit is refused; what runs keeps running, unchanged.
    serving_pids = pids(runtime, endpoint, second)
    with pytest.raises(ClientError) as caught:
        create_component(esm, unique("ic-third"), endpoint, model=model_a, copies=3, cpus=1)
    assert caught.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert caught.value.response["Error"]["Message"].startswith("Could not place 1 of 3 copies")
    assert json.loads(placement(serving, endpoint, "--json")) == document
    assert pids(runtime, endpoint, second) == serving_pids

    delete_component(esm, first)
    delete_component(esm, second)
    delete(esm, endpoint)


def test_copy_count_up_and_down_under_load(
    serving: MoorageServer, esm: Any, runtime: Any, toolbox_url: str
) -> None:
    endpoint = unique("ic-load")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    model = unique("ic-load-model")
    create_model(esm, model, toolbox_url)
    name = unique("ic-scaled")
    create_component(esm, name, endpoint, model=model, copies=1, cpus=1)
    wait_component(esm, name)
    with Traffic(runtime, endpoint, clients=4, InferenceComponentName=name) as traffic:
        time.sleep(0.5)
        esm.update_inference_component_runtime_config(
            InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 3}
        )
        assert (
            esm.describe_inference_component(InferenceComponentName=name)[
                "InferenceComponentStatus"
            ]
            == "Updating"
        )
        described = wait_component(esm, name)
        assert described["RuntimeConfig"] == {"DesiredCopyCount": 3, "CurrentCopyCount": 3}
        assert len(pids(runtime, endpoint, name)) == 3
        esm.update_inference_component_runtime_config(
            InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 1}
        )
        described = wait_component(esm, name)
        assert described["RuntimeConfig"] == {"DesiredCopyCount": 1, "CurrentCopyCount": 1}
        time.sleep(1.0)  # requests keep flowing while the removed copies drain and stop
    assert traffic.failures == []
    assert len(traffic.answers) > 50
    assert len(pids(runtime, endpoint, name, 10)) == 1
    delete_component(esm, name)
    delete(esm, endpoint)


def _current_instances(sm: Any, endpoint: str, expected: int, timeout: float = 10.0) -> int:
    """CurrentInstanceCount once it reads ``expected`` (the reconciler reports it)."""
    deadline = time.monotonic() + timeout
    while True:
        variant = sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]
        current = int(variant["CurrentInstanceCount"])
        if current == expected or time.monotonic() > deadline:
            return current
        time.sleep(0.1)


def test_managed_instance_scaling_adds_and_releases_instances(
    serving: MoorageServer, esm: Any, runtime: Any, toolbox_url: str
) -> None:
    endpoint = unique("ic-managed")
    component_endpoint(
        esm,
        endpoint,
        instance_type="ml.m5.large",  # 2 vCPUs
        ManagedInstanceScaling={"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2},
    )
    model = unique("ic-managed-model")
    create_model(esm, model, toolbox_url)
    name = unique("ic-grows")
    create_component(esm, name, endpoint, model=model, copies=3, cpus=1)
    # Placed at once: the variant wants a second instance before any copy runs.
    variant = esm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]
    assert variant["DesiredInstanceCount"] == 2
    wait_component(esm, name)
    assert _current_instances(esm, endpoint, 2) == 2
    instances = json.loads(placement(serving, endpoint, "--json"))["variants"][0]["instances"]
    assert [len(i["copies"]) for i in instances] == [2, 1]
    assert len(pids(runtime, endpoint, name)) == 3

    with pytest.raises(ClientError) as caught:
        esm.update_inference_component_runtime_config(
            InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 5}
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ResourceLimitExceeded"
    assert "(with the variant at its maximum of 2 instances)" in error["Message"]

    esm.update_inference_component_runtime_config(
        InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 1}
    )
    wait_component(esm, name)
    variant = esm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]
    assert variant["DesiredInstanceCount"] == 1
    instances = json.loads(placement(serving, endpoint, "--json"))["variants"][0]["instances"]
    assert [i["instance_id"] for i in instances] == ["instance-1"]
    delete_component(esm, name)
    delete(esm, endpoint)


def test_a_component_whose_model_cannot_load_fails(
    serving: MoorageServer, esm: Any, tmp_path: Path
) -> None:
    from support.archives import failing_model_archive

    endpoint = unique("ic-fails")
    component_endpoint(esm, endpoint, instance_type="ml.m5.large")
    model = unique("ic-broken")
    create_model(esm, model, failing_model_archive(tmp_path / "broken.tar.gz").as_uri())
    name = unique("ic-broken")
    create_component(esm, name, endpoint, model=model, copies=2, cpus=0.5)
    described = wait_component(esm, name, "Failed")
    assert "weights are corrupt" in described["FailureReason"]
    assert described["RuntimeConfig"]["CurrentCopyCount"] == 0
    # Its capacity is given back.
    document = json.loads(placement(serving, endpoint, "--json"))
    assert document["variants"][0]["totals"]["copies"] == 0
    with pytest.raises(ClientError) as caught:
        esm.update_inference_component_runtime_config(
            InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 1}
        )
    assert "because it is in Failed state" in caught.value.response["Error"]["Message"]
    delete_component(esm, name)
    delete(esm, endpoint)


def test_a_model_endpoint_refuses_a_component_name(
    esm: Any, runtime: Any, toolbox_url: str
) -> None:
    name = unique("ic-model-endpoint")
    deploy(esm, name, toolbox_url)
    with pytest.raises(ClientError) as caught:
        invoke(runtime, name, "some-component")
    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Inference Component Name header is not allowed for endpoints to which you "
        "dont plan to deploy inference components. Please remove the Inference Component Name "
        "header and try again.",
    }
    delete(esm, name)
