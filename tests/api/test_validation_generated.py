"""Generated from botocore's model: every constraint is enforced by name.

For every operation moorage implements, start from a valid baseline request
and, for each constrained member reachable from it (required, length, range,
enum, pattern), send one violating value over real HTTP; the answer must be a
``ValidationException`` whose message names that member by AWS's path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from moorage.api.patterns import matches
from moorage.api.sagemaker_api import sagemaker_handlers
from moorage.api.service_models import operation_model
from moorage.api.validate import member_path, validate
from support.raw import sagemaker_call
from support.server import MoorageServer

ROLE = "arn:aws:iam::123456789012:role/Role"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
CONTAINER = {
    "Image": "img",
    "ModelDataUrl": "s3://bucket/model.tar.gz",
    "Environment": {"KEY": "value"},
    "ContainerHostname": "main",
}
VARIANT = {
    "VariantName": "AllTraffic",
    "ModelName": "m",
    "InstanceType": "ml.m5.large",
    "InitialInstanceCount": 1,
    "InitialVariantWeight": 1.0,
    "ContainerStartupHealthCheckTimeoutInSeconds": 600,
    "ModelDataDownloadTimeoutInSeconds": 600,
    "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2},
    "RoutingConfig": {"RoutingStrategy": "RANDOM"},
}
TAGS = [{"Key": "k", "Value": "v"}]
LIST = {
    "SortBy": "Name",
    "SortOrder": "Ascending",
    "MaxResults": 10,
    "NameContains": "a",
    "NextToken": "abc",
    "CreationTimeBefore": 1.0,
    "CreationTimeAfter": 1.0,
}

COMPONENT_SPEC = {
    "ModelName": "m",
    "Container": {
        "Image": "img",
        "ArtifactUrl": "s3://bucket/model.tar.gz",
        "Environment": {"KEY": "value"},
    },
    "StartupParameters": {
        "ModelDataDownloadTimeoutInSeconds": 600,
        "ContainerStartupHealthCheckTimeoutInSeconds": 600,
    },
    "ComputeResourceRequirements": {
        "NumberOfCpuCoresRequired": 1.0,
        "NumberOfAcceleratorDevicesRequired": 1.0,
        "MinMemoryRequiredInMb": 1024,
        "MaxMemoryRequiredInMb": 2048,
        "AcceleratorPartitionType": "mig-1g.10gb",
    },
    "BaseInferenceComponentName": "base",
    "DataCacheConfig": {"EnableCaching": True},
    "SchedulingConfig": {"PlacementStrategy": "SPREAD"},
}

EXPERIMENT_VARIANT = {
    "ModelName": "m",
    "VariantName": "AllTraffic",
    "InfrastructureConfig": {
        "InfrastructureType": "RealTimeInference",
        "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    },
}
SHADOW_MODE = {
    "SourceModelVariantName": "AllTraffic",
    "ShadowModelVariants": [{"ShadowModelVariantName": "Shadow", "SamplingPercentage": 10}],
}

# A valid request per implemented operation, as rich as the shapes allow.
BASELINES: dict[str, dict[str, Any]] = {
    "CreateModel": {
        "ModelName": "m",
        "Containers": [CONTAINER],
        "InferenceExecutionConfig": {"Mode": "Serial"},
        "ExecutionRoleArn": ROLE,
        "Tags": TAGS,
    },
    "DescribeModel": {"ModelName": "m"},
    "DeleteModel": {"ModelName": "m"},
    "ListModels": LIST,
    "CreateEndpointConfig": {
        "EndpointConfigName": "c",
        "ProductionVariants": [VARIANT],
        "ShadowProductionVariants": [{**VARIANT, "VariantName": "Shadow"}],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 10,
            "DestinationS3Uri": "s3://bucket/capture",
            "KmsKeyId": "key",
            "CaptureOptions": [{"CaptureMode": "Input"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
        "ExecutionRoleArn": ROLE,
        "Tags": TAGS,
    },
    "DescribeEndpointConfig": {"EndpointConfigName": "c"},
    "DeleteEndpointConfig": {"EndpointConfigName": "c"},
    "ListEndpointConfigs": LIST,
    "CreateEndpoint": {
        "EndpointName": "e",
        "EndpointConfigName": "c",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                "TerminationWaitInSeconds": 0,
                "MaximumExecutionTimeoutInSeconds": 600,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "alarm"}]},
        },
        "Tags": TAGS,
    },
    "UpdateEndpoint": {
        "EndpointName": "e",
        "EndpointConfigName": "c",
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}],
        "DeploymentConfig": {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                "WaitIntervalInSeconds": 0,
                "MaximumExecutionTimeoutInSeconds": 600,
                "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "alarm"}]},
        },
        "RetainDeploymentConfig": False,
    },
    "UpdateEndpointWeightsAndCapacities": {
        "EndpointName": "e",
        "DesiredWeightsAndCapacities": [
            {"VariantName": "AllTraffic", "DesiredWeight": 1.0, "DesiredInstanceCount": 1}
        ],
    },
    "DescribeEndpoint": {"EndpointName": "e"},
    "DeleteEndpoint": {"EndpointName": "e"},
    "ListEndpoints": {**LIST, "StatusEquals": "InService", "LastModifiedTimeBefore": 1.0},
    "CreateInferenceComponent": {
        "InferenceComponentName": "ic",
        "EndpointName": "e",
        "VariantName": "AllTraffic",
        "Specification": COMPONENT_SPEC,
        "Specifications": [{**COMPONENT_SPEC, "InstanceType": "ml.m5.large"}],
        "RuntimeConfig": {"CopyCount": 1},
        "Tags": TAGS,
    },
    "DescribeInferenceComponent": {"InferenceComponentName": "ic"},
    "ListInferenceComponents": {
        **LIST,
        "StatusEquals": "InService",
        "EndpointNameEquals": "e",
        "VariantNameEquals": "AllTraffic",
        "LastModifiedTimeBefore": 1.0,
        "LastModifiedTimeAfter": 1.0,
    },
    "UpdateInferenceComponent": {
        "InferenceComponentName": "ic",
        "Specification": COMPONENT_SPEC,
        "RuntimeConfig": {"CopyCount": 1},
        "DeploymentConfig": {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 0,
                "MaximumExecutionTimeoutInSeconds": 600,
                "RollbackMaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 100},
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "alarm"}]},
        },
    },
    "UpdateInferenceComponentRuntimeConfig": {
        "InferenceComponentName": "ic",
        "DesiredRuntimeConfig": {"CopyCount": 1},
    },
    "DeleteInferenceComponent": {"InferenceComponentName": "ic"},
    "CreateInferenceExperiment": {
        "Name": "x",
        "Type": "ShadowMode",
        "Schedule": {"StartTime": 2_000_000_000.0, "EndTime": 2_000_003_600.0},
        "Description": "d",
        "RoleArn": ROLE,
        "EndpointName": "e",
        "ModelVariants": [EXPERIMENT_VARIANT, {**EXPERIMENT_VARIANT, "VariantName": "Shadow"}],
        "DataStorageConfig": {
            "Destination": "s3://bucket/shadow",
            "KmsKey": "key",
            "ContentType": {"JsonContentTypes": ["application/json"]},
        },
        "ShadowModeConfig": SHADOW_MODE,
        "KmsKey": "key",
        "Tags": TAGS,
    },
    "DescribeInferenceExperiment": {"Name": "x"},
    "ListInferenceExperiments": {
        **LIST,
        "SortBy": "Status",
        "Type": "ShadowMode",
        "StatusEquals": "Running",
        "LastModifiedTimeBefore": 1.0,
        "LastModifiedTimeAfter": 1.0,
    },
    "UpdateInferenceExperiment": {
        "Name": "x",
        "Schedule": {"EndTime": 2_000_003_600.0},
        "Description": "d",
        "ModelVariants": [EXPERIMENT_VARIANT],
        "DataStorageConfig": {"Destination": "s3://bucket/shadow"},
        "ShadowModeConfig": SHADOW_MODE,
    },
    "StartInferenceExperiment": {"Name": "x"},
    "StopInferenceExperiment": {
        "Name": "x",
        "ModelVariantActions": {"AllTraffic": "Remove", "Shadow": "Promote"},
        "DesiredModelVariants": [EXPERIMENT_VARIANT],
        "DesiredState": "Completed",
        "Reason": "r",
    },
    "DeleteInferenceExperiment": {"Name": "x"},
    "AddTags": {"ResourceArn": ARN, "Tags": TAGS},
    "ListTags": {"ResourceArn": ARN, "MaxResults": 50, "NextToken": "x"},
    "DeleteTags": {"ResourceArn": ARN, "TagKeys": ["k"]},
}


@dataclass(frozen=True)
class Case:
    operation: str
    location: tuple[str | int, ...]
    value: Any
    member: str
    remove: bool = False

    @property
    def id(self) -> str:
        what = "missing" if self.remove else "bad"
        return f"{self.operation}:{self.member}:{what}"


_MISSING = object()


def bad_strings(shape: Any) -> Iterator[Any]:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if high is not None:
        yield "a" * (high + 1)
    if low:
        yield ""
    if shape.enum:
        yield "NOT_A_VALID_VALUE"
        return
    pattern = shape.metadata.get("pattern")
    if pattern:
        for candidate in ("!", "#bad value#", "\u0000", "a b"):
            if (low or 0) <= len(candidate) <= (high or 10**9) and not matches(pattern, candidate):
                yield candidate
                break


def bad_values(shape: Any, baseline: Any) -> Iterator[Any]:
    kind = shape.type_name
    if kind == "string":
        yield from bad_strings(shape)
    elif kind in ("integer", "long", "float", "double"):
        if shape.metadata.get("min") is not None:
            yield shape.metadata["min"] - 1
        if shape.metadata.get("max") is not None:
            yield shape.metadata["max"] + 1
    elif kind == "list":
        if shape.metadata.get("max") is not None and isinstance(baseline, list) and baseline:
            yield [baseline[0]] * (shape.metadata["max"] + 1)
        if shape.metadata.get("min"):
            yield []
    elif kind == "map" and shape.metadata.get("max") is not None:
        yield {f"K{i}": "v" for i in range(shape.metadata["max"] + 1)}


def walk(
    operation: str, shape: Any, value: dict[str, Any], location: tuple[str | int, ...], path: str
) -> Iterator[Case]:
    for name, member in shape.members.items():
        here = member_path(path, name)
        present = value.get(name, _MISSING)
        if name in shape.required_members:
            yield Case(operation, (*location, name), None, here, remove=True)
        for bad in bad_values(member, None if present is _MISSING else present):
            yield Case(operation, (*location, name), bad, here)
        if present is _MISSING:
            continue
        if member.type_name == "structure":
            yield from walk(operation, member, present, (*location, name), here)
        elif member.type_name == "list" and member.member.type_name == "structure" and present:
            yield from walk(
                operation, member.member, present[0], (*location, name, 0), f"{here}.1.member"
            )


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for operation, baseline in BASELINES.items():
        shape = operation_model("sagemaker", operation).input_shape
        cases.extend(walk(operation, shape, baseline, (), ""))
    return cases


def apply(case: Case) -> dict[str, Any]:
    request = copy.deepcopy(BASELINES[case.operation])
    target: Any = request
    for step in case.location[:-1]:
        target = target[step]
    last = case.location[-1]
    if case.remove:
        del target[last]
    else:
        target[last] = case.value
    return request


def test_every_implemented_operation_has_a_baseline() -> None:
    class _AnyPlane:
        """Stands in for the control plane: the table only reads attributes."""

        def __getattr__(self, _: str) -> Any:
            return self

    assert set(sagemaker_handlers(_AnyPlane())) == set(BASELINES)  # type: ignore[arg-type]


@pytest.mark.parametrize("operation", sorted(BASELINES))
def test_baselines_are_valid(operation: str) -> None:
    validate(operation_model("sagemaker", operation).input_shape, BASELINES[operation])


CASES = all_cases()


def test_generation_covers_many_constraints() -> None:
    assert len(CASES) > 150


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_violation_is_reported_by_member(server: MoorageServer, case: Case) -> None:
    reply = sagemaker_call(server.url, case.operation, apply(case))
    assert reply.status == 400, reply.body
    body = reply.json()
    assert body["__type"] == "ValidationException", body
    assert f"at '{case.member}'" in body["message"], body["message"]
