"""UpdateInferenceComponent with a partial Specification, as the SageMaker SDK sends it.

``Predictor.update_predictor(resources=...)`` sends only
``Specification.ComputeResourceRequirements``; members left out keep their
stored values. Components here have no copies; tests/e2e/test_component_resize.py
updates a running copy.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.components import component_endpoint, compute, delete_component, wait_component
from support.endpoints import ROLE
from support.names import unique
from support.server import MoorageServer


@pytest.fixture(scope="module")
def endpoint(server: MoorageServer) -> str:
    name = unique("ic-partial")
    component_endpoint(server.sagemaker, name, instance_type="ml.m5.large")
    return name


@pytest.fixture(scope="module")
def model(server: MoorageServer) -> str:
    name = unique("ic-partial-model")
    server.sagemaker.create_model(
        ModelName=name, PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE
    )
    return name


def specification(sm: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = sm.describe_inference_component(InferenceComponentName=name)[
        "Specification"
    ]
    return found


def test_members_left_out_keep_their_values(sm: Any, endpoint: str, model: str) -> None:
    name = unique("ic-partial")
    startup = {"ContainerStartupHealthCheckTimeoutInSeconds": 120}
    sm.create_inference_component(
        InferenceComponentName=name,
        EndpointName=endpoint,
        VariantName="AllTraffic",
        Specification={
            "ModelName": model,
            "ComputeResourceRequirements": compute(0.5, 512, MaxMemoryRequiredInMb=1024),
            "StartupParameters": startup,
            "SchedulingConfig": {"PlacementStrategy": "BINPACK"},
        },
        RuntimeConfig={"CopyCount": 0},
    )
    wait_component(sm, name)

    # What update_predictor(resources=...) sends.
    sm.update_inference_component(
        InferenceComponentName=name,
        Specification={"ComputeResourceRequirements": compute(0.25, 256)},
    )
    described = wait_component(sm, name)
    assert described["InferenceComponentStatus"] == "InService"
    assert "FailureReason" not in described
    spec = described["Specification"]
    assert spec["ModelName"] == model
    assert spec["StartupParameters"] == startup
    assert spec["SchedulingConfig"] == {"PlacementStrategy": "BINPACK"}
    # The requirements sent are the new ones, whole.
    assert spec["ComputeResourceRequirements"] == compute(0.25, 256)

    sm.update_inference_component(
        InferenceComponentName=name,
        Specification={"StartupParameters": {"ModelDataDownloadTimeoutInSeconds": 900}},
    )
    wait_component(sm, name)
    spec = specification(sm, name)
    assert spec["StartupParameters"] == {"ModelDataDownloadTimeoutInSeconds": 900}
    assert spec["ComputeResourceRequirements"] == compute(0.25, 256)
    assert spec["ModelName"] == model

    # The same values again change nothing: no update is started.
    before = sm.describe_inference_component(InferenceComponentName=name)["LastModifiedTime"]
    sm.update_inference_component(
        InferenceComponentName=name,
        Specification={"ComputeResourceRequirements": compute(0.25, 256)},
    )
    after = sm.describe_inference_component(InferenceComponentName=name)
    assert after["InferenceComponentStatus"] == "InService"
    assert after["LastModifiedTime"] == before
    delete_component(sm, name)


def test_a_merged_specification_is_checked_like_a_new_one(
    sm: Any, endpoint: str, model: str
) -> None:
    name = unique("ic-partial-bad")
    sm.create_inference_component(
        InferenceComponentName=name,
        EndpointName=endpoint,
        Specification={"ModelName": model, "ComputeResourceRequirements": compute(0.5, 512)},
        RuntimeConfig={"CopyCount": 0},
    )
    wait_component(sm, name)
    before = specification(sm, name)
    for update, needle in (
        ({"ComputeResourceRequirements": compute(0.5, 2048, MaxMemoryRequiredInMb=1024)}, "Max"),
        ({"ModelName": "no-such-model"}, "Could not find model"),
        ({"BaseInferenceComponentName": name}, "BaseInferenceComponentName cannot be changed"),
    ):
        with pytest.raises(ClientError) as caught:
            sm.update_inference_component(InferenceComponentName=name, Specification=update)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert needle in caught.value.response["Error"]["Message"]
        assert specification(sm, name) == before
    # A container in place of the model: the stored ModelName goes.
    sm.update_inference_component(
        InferenceComponentName=name,
        Specification={"Container": {"Image": "img", "ArtifactUrl": "s3://bucket/m.tar.gz"}},
    )
    wait_component(sm, name)
    spec = specification(sm, name)
    assert spec.get("ModelName") is None
    assert spec["Container"]["ArtifactUrl"] == "s3://bucket/m.tar.gz"
    assert spec["ComputeResourceRequirements"] == compute(0.5, 512)
    delete_component(sm, name)


def test_an_adapter_moves_to_new_artifacts_with_the_url_alone(
    sm: Any, endpoint: str, model: str
) -> None:
    base = unique("ic-partial-base")
    sm.create_inference_component(
        InferenceComponentName=base,
        EndpointName=endpoint,
        Specification={"ModelName": model, "ComputeResourceRequirements": compute(0.5, 512)},
        RuntimeConfig={"CopyCount": 0},
    )
    wait_component(sm, base)
    adapter = unique("ic-partial-adapter")
    sm.create_inference_component(
        InferenceComponentName=adapter,
        EndpointName=endpoint,
        Specification={
            "BaseInferenceComponentName": base,
            "Container": {"ArtifactUrl": "s3://bucket/adapter-v1.tar.gz"},
        },
    )
    wait_component(sm, adapter)
    sm.update_inference_component(
        InferenceComponentName=adapter,
        Specification={"Container": {"ArtifactUrl": "s3://bucket/adapter-v2.tar.gz"}},
    )
    wait_component(sm, adapter)
    spec = specification(sm, adapter)
    assert spec["BaseInferenceComponentName"] == base
    assert spec["Container"]["ArtifactUrl"] == "s3://bucket/adapter-v2.tar.gz"
    delete_component(sm, adapter)
    delete_component(sm, base)
