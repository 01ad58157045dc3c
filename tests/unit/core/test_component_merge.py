"""A partial UpdateInferenceComponent Specification laid over the stored one."""

from __future__ import annotations

from typing import Any

from moorage.control.component_merge import merged_specification

STORED: dict[str, Any] = {
    "ModelName": "m1",
    "StartupParameters": {"ContainerStartupHealthCheckTimeoutInSeconds": 120},
    "ComputeResourceRequirements": {
        "NumberOfCpuCoresRequired": 1,
        "NumberOfAcceleratorDevicesRequired": 1,
        "MinMemoryRequiredInMb": 1024,
    },
    "SchedulingConfig": {"PlacementStrategy": "BINPACK"},
}


def test_resources_alone_keep_everything_else() -> None:
    resources = {"NumberOfCpuCoresRequired": 2, "MinMemoryRequiredInMb": 2048}
    merged = merged_specification(STORED, {"ComputeResourceRequirements": resources})
    # The requirements sent are the new requirements: no accelerator is kept from before.
    assert merged == {**STORED, "ComputeResourceRequirements": resources}
    assert STORED["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"] == 1


def test_model_and_container_replace_each_other() -> None:
    container = {"Image": "img", "ArtifactUrl": "s3://b/m.tar.gz"}
    with_container = merged_specification(STORED, {"Container": container})
    assert "ModelName" not in with_container and with_container["Container"] == container
    back = merged_specification(with_container, {"ModelName": "m2"})
    assert back["ModelName"] == "m2" and "Container" not in back
    assert back["ComputeResourceRequirements"] == STORED["ComputeResourceRequirements"]


def test_container_members_are_merged() -> None:
    stored = {
        "Container": {
            "Image": "img:1",
            "ArtifactUrl": "s3://b/a.tar.gz",
            "Environment": {"A": "1"},
        },
        "ComputeResourceRequirements": {"NumberOfCpuCoresRequired": 1},
    }
    merged = merged_specification(stored, {"Container": {"Image": "img:2"}})
    assert merged["Container"] == {
        "Image": "img:2",
        "ArtifactUrl": "s3://b/a.tar.gz",
        "Environment": {"A": "1"},
    }
    # An environment given replaces the stored one whole.
    merged = merged_specification(stored, {"Container": {"Environment": {"B": "2"}}})
    assert merged["Container"]["Environment"] == {"B": "2"}


def test_an_adapter_keeps_its_base() -> None:
    adapter = {"BaseInferenceComponentName": "base", "Container": {"ArtifactUrl": "s3://b/v1"}}
    merged = merged_specification(adapter, {"Container": {"ArtifactUrl": "s3://b/v2"}})
    assert merged == {
        "BaseInferenceComponentName": "base",
        "Container": {"ArtifactUrl": "s3://b/v2"},
    }


def test_an_empty_update_changes_nothing() -> None:
    assert merged_specification(STORED, {}) == STORED
    assert merged_specification(STORED, {"Container": {}}) == STORED
