"""Inference components through a real server: validation, limits, listing, lifecycle rules.

Components here have no copies (CopyCount 0, or a refused change), so no
model server runs; tests/e2e/test_inference_components.py runs real copies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.components import (
    component_endpoint,
    compute,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import ROLE
from support.names import unique
from support.raw import request
from support.server import MoorageServer

ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def endpoint(server: MoorageServer) -> str:
    """A component endpoint: one ml.m5.large (2 vCPUs, 8192 MB)."""
    name = unique("ic-ep")
    component_endpoint(server.sagemaker, name, instance_type="ml.m5.large")
    return name


@pytest.fixture(scope="module")
def model(server: MoorageServer) -> str:
    name = unique("ic-model")
    server.sagemaker.create_model(
        ModelName=name, PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE
    )
    return name


def placement_of(server: MoorageServer, endpoint: str) -> dict[str, Any]:
    reply = request(server.url, "GET", f"/moorage/placement/{endpoint}")
    assert reply.status == 200, reply.body
    document: dict[str, Any] = reply.json()
    return document


def components_on(sm: Any, endpoint: str) -> list[str]:
    listed = sm.list_inference_components(EndpointNameEquals=endpoint, MaxResults=100)
    return sorted(c["InferenceComponentName"] for c in listed["InferenceComponents"])


def test_create_describe_list_tag_delete(sm: Any, endpoint: str, model: str) -> None:
    name = unique("ic-Basic")
    arn = sm.create_inference_component(
        InferenceComponentName=name,
        EndpointName=endpoint,
        VariantName="AllTraffic",
        Specification={
            "ModelName": model,
            "ComputeResourceRequirements": compute(0.5, 512, MaxMemoryRequiredInMb=1024),
            "StartupParameters": {"ContainerStartupHealthCheckTimeoutInSeconds": 120},
            "DataCacheConfig": {"EnableCaching": True},
            "SchedulingConfig": {"PlacementStrategy": "BINPACK"},
        },
        RuntimeConfig={"CopyCount": 0},
        Tags=[{"Key": "team", "Value": "search"}],
    )["InferenceComponentArn"]
    assert arn == f"{ACCOUNT_ARN}:inference-component/{name.lower()}"
    described = wait_component(sm, name)
    assert described["InferenceComponentName"] == name
    assert described["EndpointName"] == endpoint
    assert described["EndpointArn"] == f"{ACCOUNT_ARN}:endpoint/{endpoint.lower()}"
    assert described["VariantName"] == "AllTraffic"
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 0, "CurrentCopyCount": 0}
    spec = described["Specification"]
    assert spec["ModelName"] == model
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfCpuCoresRequired": 0.5,
        "MinMemoryRequiredInMb": 512,
        "MaxMemoryRequiredInMb": 1024,
    }
    assert spec["SchedulingConfig"] == {"PlacementStrategy": "BINPACK"}
    assert spec["StartupParameters"] == {"ContainerStartupHealthCheckTimeoutInSeconds": 120}
    assert described["CreationTime"] <= described["LastModifiedTime"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "search"}]
    assert name in components_on(sm, endpoint)

    delete_component(sm, name)
    with pytest.raises(ClientError) as caught:
        sm.describe_inference_component(InferenceComponentName=name)
    assert error_of(caught) == (
        "ValidationException",
        f'Could not find inference component "{arn}".',
    )
    with pytest.raises(ClientError):
        sm.list_tags(ResourceArn=arn)


def _base_spec(model: str) -> dict[str, Any]:
    return {"ModelName": model, "ComputeResourceRequirements": compute()}


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("no specification", {"RuntimeConfig": {"CopyCount": 1}}, "Value null at 'specification'"),
    (
        "both specification forms",
        {"Specification": "BASE", "Specifications": ["BASE"], "RuntimeConfig": {"CopyCount": 1}},
        "Specify either Specification or Specifications, not both.",
    ),
    (
        "model and container",
        {
            "Specification": {
                "ModelName": "MODEL",
                "Container": {"Image": "img"},
                "ComputeResourceRequirements": compute(),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "Specify either ModelName or Container in Specification, not both.",
    ),
    (
        "neither model nor container",
        {
            "Specification": {"ComputeResourceRequirements": compute()},
            "RuntimeConfig": {"CopyCount": 1},
        },
        "Specification must name a ModelName or give a Container.",
    ),
    (
        "container without image",
        {
            "Specification": {
                "Container": {"ArtifactUrl": "s3://bucket/model.tar.gz"},
                "ComputeResourceRequirements": compute(),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "Container.Image is required when Specification names no ModelName.",
    ),
    (
        "no compute requirements",
        {"Specification": {"ModelName": "MODEL"}, "RuntimeConfig": {"CopyCount": 1}},
        "ComputeResourceRequirements is required unless BaseInferenceComponentName",
    ),
    (
        "no runtime config",
        {"Specification": "BASE"},
        "RuntimeConfig is required unless BaseInferenceComponentName",
    ),
    (
        "too many environment entries",
        {
            "Specification": {
                "Container": {"Image": "img", "Environment": {f"K{i}": "v" for i in range(17)}},
                "ComputeResourceRequirements": compute(),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "at 'specification.container.environment' failed to satisfy constraint: Member must "
        "have length less than or equal to 16",
    ),
    (
        "environment value too long",
        {
            "Specification": {
                "Container": {"Image": "img", "Environment": {"K": "v" * 1025}},
                "ComputeResourceRequirements": compute(),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "Member must have length less than or equal to 1024",
    ),
    (
        "maximum below minimum memory",
        {
            "Specification": {
                "ModelName": "MODEL",
                "ComputeResourceRequirements": compute(MaxMemoryRequiredInMb=512),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "MaxMemoryRequiredInMb (512) must not be less than MinMemoryRequiredInMb (1024).",
    ),
    (
        "a quarter core at least",
        {
            "Specification": {"ModelName": "MODEL", "ComputeResourceRequirements": compute(0.1)},
            "RuntimeConfig": {"CopyCount": 1},
        },
        "Member must have value greater than or equal to 0.25",
    ),
    (
        "negative copy count",
        {"Specification": "BASE", "RuntimeConfig": {"CopyCount": -1}},
        "Member must have value greater than or equal to 0",
    ),
    (
        "accelerator partitions",
        {
            "Specification": {
                "ModelName": "MODEL",
                "ComputeResourceRequirements": compute(AcceleratorPartitionType="mig-1g.10gb"),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "AcceleratorPartitionType applies only to an endpoint whose production variant has an "
        "accelerator partition layout",
    ),
    (
        "another instance type",
        {
            "Specification": {
                "ModelName": "MODEL",
                "InstanceType": "ml.g5.xlarge",
                "ComputeResourceRequirements": compute(),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "Specification.InstanceType ml.g5.xlarge does not match the instance type ml.m5.large",
    ),
    (
        "unknown model",
        {
            "Specification": {
                "ModelName": "no-such-model",
                "ComputeResourceRequirements": compute(),
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        f'Could not find model "{ACCOUNT_ARN}:model/no-such-model".',
    ),
    (
        "unknown variant",
        {"Specification": "BASE", "RuntimeConfig": {"CopyCount": 1}, "VariantName": "Nope"},
        'Could not find variant "Nope" on endpoint',
    ),
    (
        "adapter with compute requirements",
        {
            "Specification": {
                "BaseInferenceComponentName": "whatever",
                "Container": {"ArtifactUrl": "s3://bucket/adapter.tar.gz"},
                "ComputeResourceRequirements": compute(),
            }
        },
        "ComputeResourceRequirements must not be specified for an adapter inference component",
    ),
    (
        "adapter without artifacts",
        {"Specification": {"BaseInferenceComponentName": "whatever"}},
        "Container.ArtifactUrl is required for an adapter inference component",
    ),
    (
        "adapter of an unknown base",
        {
            "Specification": {
                "BaseInferenceComponentName": "no-such-base",
                "Container": {"ArtifactUrl": "s3://bucket/adapter.tar.gz"},
            }
        },
        f'Could not find inference component "{ACCOUNT_ARN}:inference-component/no-such-base".',
    ),
    (
        "adapter with copies",
        {
            "Specification": {
                "BaseInferenceComponentName": "whatever",
                "Container": {"ArtifactUrl": "s3://bucket/adapter.tar.gz"},
            },
            "RuntimeConfig": {"CopyCount": 1},
        },
        "RuntimeConfig must not be specified for an adapter inference component",
    ),
]


@pytest.mark.parametrize(("case", "request_", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_requests_are_refused_and_change_nothing(
    server: MoorageServer,
    endpoint: str,
    model: str,
    case: str,
    request_: dict[str, Any],
    message: str,
) -> None:
    # Sent without boto3's own checks, so the server's answers are what is tested.
    sm = server.client("sagemaker", parameter_validation=False)
    before = placement_of(server, endpoint)
    params: dict[str, Any] = json.loads(
        json.dumps(request_).replace('"BASE"', json.dumps(_base_spec(model)))
    )
    params = json.loads(json.dumps(params).replace('"MODEL"', json.dumps(model)))
    name = unique("ic-bad")
    with pytest.raises(ClientError) as caught:
        sm.create_inference_component(InferenceComponentName=name, EndpointName=endpoint, **params)
    code, text = error_of(caught)
    assert code == "ValidationException"
    assert message in text
    assert name not in components_on(sm, endpoint)
    assert placement_of(server, endpoint) == before


def test_components_need_an_endpoint_for_components(sm: Any, model: str) -> None:
    with pytest.raises(ClientError) as caught:
        create_component(sm, unique("ic"), "no-such-endpoint", model=model)
    assert error_of(caught) == (
        "ValidationException",
        f'Could not find endpoint "{ACCOUNT_ARN}:endpoint/no-such-endpoint".',
    )
    # A model-based endpoint (its model data does not exist, so nothing runs).
    name = unique("ic-model-based")
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "img", "ModelDataUrl": "file:///nonexistent/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with pytest.raises(ClientError) as caught:
        create_component(sm, unique("ic"), name, model=model)
    assert error_of(caught) == (
        "ValidationException",
        "Inference Components are not supported in this Endpoint. Please make sure this "
        "endpoint can deploy inference components.",
    )


def test_an_existing_name_is_refused(sm: Any, endpoint: str, model: str) -> None:
    name = unique("ic-twice")
    arn = create_component(sm, name, endpoint, model=model, copies=0)
    with pytest.raises(ClientError) as caught:
        create_component(sm, name, endpoint, model=model, copies=0)
    assert error_of(caught) == (
        "ValidationException",
        f'Cannot create already existing inference component "{arn}".',
    )
    delete_component(sm, name)


def test_copies_that_do_not_fit_are_refused_and_change_nothing(
    server: MoorageServer, endpoint: str, model: str
) -> None:
    sm = server.sagemaker
    before = placement_of(server, endpoint)
    name = unique("ic-big")
    with pytest.raises(ClientError) as caught:
        create_component(sm, name, endpoint, model=model, copies=3, cpus=1, memory=1024)
    code, message = error_of(caught)
    assert code == "ResourceLimitExceeded"
    assert message.startswith(
        f'Could not place 1 of 3 copies of inference component "{name}": each copy needs '
        "1 vCPU and 1024 MB of memory; instance instance-1 (ml.m5.large) has 0 vCPUs"
    )
    assert name not in components_on(sm, endpoint)
    assert placement_of(server, endpoint) == before

    with pytest.raises(ClientError) as caught:
        create_component(sm, name, endpoint, model=model, copies=10_001, cpus=0.25, memory=128)
    assert error_of(caught) == (
        "ResourceLimitExceeded",
        f"Inference component {name} would have 10001 copies; moorage runs at most 10000 "
        "copies of one inference component.",
    )

    # Raising the copy count of an existing component past the capacity: same answer.
    create_component(sm, name, endpoint, model=model, copies=0, cpus=2)
    wait_component(sm, name)
    before = placement_of(server, endpoint)
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component_runtime_config(
            InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 2}
        )
    assert error_of(caught)[0] == "ResourceLimitExceeded"
    described = sm.describe_inference_component(InferenceComponentName=name)
    assert described["InferenceComponentStatus"] == "InService"
    assert described["RuntimeConfig"]["DesiredCopyCount"] == 0
    assert placement_of(server, endpoint) == before
    delete_component(sm, name)


def test_updates_that_cannot_be_done(sm: Any, endpoint: str, model: str) -> None:
    name = unique("ic-upd")
    arn = create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component(InferenceComponentName=name)
    assert error_of(caught) == (
        "ValidationException",
        f'Nothing to update for inference component "{arn}": specify Specification, '
        "RuntimeConfig or both.",
    )
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component_runtime_config(
            InferenceComponentName="no-such-component", DesiredRuntimeConfig={"CopyCount": 1}
        )
    assert error_of(caught) == (
        "ValidationException",
        f'Could not find inference component "{ACCOUNT_ARN}:inference-component/'
        'no-such-component".',
    )
    # A new specification with the same (zero) copies goes through Updating to InService.
    sm.update_inference_component(
        InferenceComponentName=name,
        Specification={"ModelName": model, "ComputeResourceRequirements": compute(0.25, 256)},
    )
    described = wait_component(sm, name)
    assert described["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfCpuCoresRequired": 0.25,
        "MinMemoryRequiredInMb": 256,
    }
    delete_component(sm, name)


def described(sm: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = sm.describe_inference_component(InferenceComponentName=name)
    found.pop("ResponseMetadata")
    return found


def rolling(batch: tuple[str, int], wait: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": batch[0], "Value": batch[1]},
            "WaitIntervalInSeconds": wait,
            **extra,
        }
    }


@pytest.mark.parametrize(
    ("copies", "config", "message"),
    [
        (
            2,
            rolling(("COPY_COUNT", 2)),
            "MaximumBatchSize (COPY_COUNT 2) must be between 5% and 50% of the copy count of "
            "inference component {name} (2 copies); it is 100%.",
        ),
        (
            4,
            rolling(("CAPACITY_PERCENT", 75)),
            "MaximumBatchSize (CAPACITY_PERCENT 75) must be between 5% and 50% of the copy "
            "count of inference component {name} (4 copies); it is 75%.",
        ),
        (
            0,
            rolling(("CAPACITY_PERCENT", 50)),
            "A rolling update of inference component {name} needs at least one copy of the new "
            "specification: RuntimeConfig.CopyCount is 0. Update without a DeploymentConfig to "
            "scale the component to 0 copies.",
        ),
        (
            2,
            rolling(("COPY_COUNT", 1), 400, MaximumExecutionTimeoutInSeconds=600),
            "MaximumExecutionTimeoutInSeconds (600) must be larger than the total waiting time "
            "of the deployment (800 seconds of WaitIntervalInSeconds, one per batch).",
        ),
        (
            2,
            rolling(
                ("COPY_COUNT", 1),
                RollbackMaximumBatchSize={"Type": "CAPACITY_PERCENT", "Value": 150},
            ),
            "RollbackMaximumBatchSize (CAPACITY_PERCENT 150) must be at most 100% of the copy "
            "count.",
        ),
    ],
)
def test_rolling_updates_that_break_a_rule_are_refused_and_change_nothing(
    server: MoorageServer,
    sm: Any,
    endpoint: str,
    model: str,
    copies: int,
    config: dict[str, Any],
    message: str,
) -> None:
    name = unique("ic-roll")
    create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    before = described(sm, name)
    placed = placement_of(server, endpoint)["variants"]
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component(
            InferenceComponentName=name,
            Specification={"ModelName": model, "ComputeResourceRequirements": compute(0.25, 256)},
            RuntimeConfig={"CopyCount": copies},
            DeploymentConfig=config,
        )
    assert error_of(caught) == ("ValidationException", message.format(name=name))
    assert described(sm, name) == before
    assert placement_of(server, endpoint)["variants"] == placed
    delete_component(sm, name)


def test_a_rolling_update_whose_batch_cannot_fit_is_refused(
    server: MoorageServer, sm: Any, endpoint: str, model: str
) -> None:
    name = unique("ic-roll-fit")
    create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    before = described(sm, name)
    placed = placement_of(server, endpoint)["variants"]
    # ml.m5.large has 2 vCPUs: the first 1.5-vCPU copy fits, the second does not.
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component(
            InferenceComponentName=name,
            Specification={"ModelName": model, "ComputeResourceRequirements": compute(1.5, 256)},
            RuntimeConfig={"CopyCount": 2},
            DeploymentConfig=rolling(("COPY_COUNT", 1)),
        )
    code, text = error_of(caught)
    assert code == "ResourceLimitExceeded"
    assert text.startswith(f'Could not place 1 of 1 copies of inference component "{name}"')
    assert text.endswith(
        f'(Endpoint {endpoint}, production variant AllTraffic; rolling update step "Batch 2: '
        'start 1 new copy".)'
    )
    assert described(sm, name) == before
    assert placement_of(server, endpoint)["variants"] == placed
    delete_component(sm, name)


def test_an_adapter_takes_no_deployment_config(sm: Any, endpoint: str, model: str) -> None:
    base = unique("ic-roll-base")
    create_component(sm, base, endpoint, model=model, copies=0)
    wait_component(sm, base)
    adapter = unique("ic-roll-adapter")
    sm.create_inference_component(
        InferenceComponentName=adapter,
        EndpointName=endpoint,
        Specification={
            "BaseInferenceComponentName": base,
            "Container": {"ArtifactUrl": "s3://bucket/adapter.tar.gz"},
        },
    )
    wait_component(sm, adapter)
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component(
            InferenceComponentName=adapter,
            Specification={
                "BaseInferenceComponentName": base,
                "Container": {"ArtifactUrl": "s3://bucket/adapter-v2.tar.gz"},
            },
            DeploymentConfig=rolling(("COPY_COUNT", 1)),
        )
    assert error_of(caught) == (
        "ValidationException",
        "DeploymentConfig must not be specified for an adapter inference component (one with "
        "BaseInferenceComponentName): it has no copies of its own to roll over.",
    )
    delete_component(sm, adapter)
    delete_component(sm, base)


def test_list_filters_sorting_and_paging(sm: Any, model: str) -> None:
    first = unique("ic-list-a")
    second = unique("ic-list-b")
    component_endpoint(sm, first, instance_type="ml.m5.large", variants=("One", "Two"))
    component_endpoint(sm, second, instance_type="ml.m5.large")
    names = []
    for index in range(5):
        name = unique(f"ic-listed-{index}")
        variant = "One" if index % 2 == 0 else "Two"
        create_component(sm, name, first, model=model, copies=0, variant=variant)
        names.append(name)
    other = unique("ic-elsewhere")
    create_component(sm, other, second, model=model, copies=0)
    for name in (*names, other):
        wait_component(sm, name)

    listed = sm.list_inference_components(EndpointNameEquals=first, MaxResults=100)
    assert [c["InferenceComponentName"] for c in listed["InferenceComponents"]] == names[::-1]
    summary = listed["InferenceComponents"][0]
    assert set(summary) == {
        "CreationTime",
        "InferenceComponentArn",
        "InferenceComponentName",
        "EndpointArn",
        "EndpointName",
        "VariantName",
        "InferenceComponentStatus",
        "LastModifiedTime",
    }
    one = sm.list_inference_components(
        EndpointNameEquals=first, VariantNameEquals="One", SortBy="Name", SortOrder="Ascending"
    )
    assert [c["InferenceComponentName"] for c in one["InferenceComponents"]] == sorted(
        names[0::2], key=str.lower
    )
    assert (
        sm.list_inference_components(EndpointNameEquals=first, StatusEquals="Failed")[
            "InferenceComponents"
        ]
        == []
    )

    seen: list[str] = []
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = sm.list_inference_components(
            EndpointNameEquals=first, MaxResults=2, SortBy="Name", **extra
        )
        assert len(page["InferenceComponents"]) <= 2
        seen.extend(c["InferenceComponentName"] for c in page["InferenceComponents"])
        token = page.get("NextToken")
        if not token:
            break
    assert seen == sorted(names, key=str.lower, reverse=True)

    created = sm.describe_inference_component(InferenceComponentName=names[2])["CreationTime"]
    after = sm.list_inference_components(
        EndpointNameEquals=first, CreationTimeAfter=created, SortOrder="Ascending"
    )
    assert [c["InferenceComponentName"] for c in after["InferenceComponents"]] == names[3:]
    named = sm.list_inference_components(NameContains=other.upper())
    assert [c["InferenceComponentName"] for c in named["InferenceComponents"]] == [other]

    for name in (*names, other):
        delete_component(sm, name)


def test_endpoint_with_components_cannot_be_deleted_or_updated(sm: Any, model: str) -> None:
    endpoint = unique("ic-keep")
    component_endpoint(sm, endpoint, instance_type="ml.m5.large")
    name = unique("ic-held")
    create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    with pytest.raises(ClientError) as caught:
        sm.delete_endpoint(EndpointName=endpoint)
    assert error_of(caught) == (
        "ValidationException",
        f'Cannot delete endpoint "{ACCOUNT_ARN}:endpoint/{endpoint.lower()}" because inference '
        f"components are deployed to it: {name}. Delete the inference components first.",
    )
    with pytest.raises(ClientError) as caught:
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    assert "hosts inference components" in error_of(caught)[1]
    delete_component(sm, name)
    sm.delete_endpoint(EndpointName=endpoint)
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )


def test_adapters_hold_their_base(sm: Any, endpoint: str, model: str) -> None:
    base = unique("ic-base")
    adapter = unique("ic-adapter")
    base_arn = create_component(sm, base, endpoint, model=model, copies=0)
    wait_component(sm, base)
    sm.create_inference_component(
        InferenceComponentName=adapter,
        EndpointName=endpoint,
        Specification={
            "BaseInferenceComponentName": base,
            "Container": {"ArtifactUrl": "s3://bucket/adapter.tar.gz"},
        },
    )
    described = wait_component(sm, adapter)
    assert described["Specification"]["BaseInferenceComponentName"] == base
    assert "RuntimeConfig" not in described
    with pytest.raises(ClientError) as caught:
        sm.delete_inference_component(InferenceComponentName=base)
    assert error_of(caught) == (
        "ValidationException",
        f'Cannot delete inference component "{base_arn}" because adapter inference components '
        f"use it as their base: {adapter}. Delete them first.",
    )
    with pytest.raises(ClientError) as caught:
        sm.update_inference_component_runtime_config(
            InferenceComponentName=adapter, DesiredRuntimeConfig={"CopyCount": 2}
        )
    assert "RuntimeConfig must not be specified for an adapter" in error_of(caught)[1]
    delete_component(sm, adapter)
    delete_component(sm, base)


def test_invocations_name_a_component(server: MoorageServer, endpoint: str, model: str) -> None:
    sm = server.sagemaker
    runtime = server.client("sagemaker-runtime")
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}")
    assert error_of(caught) == (
        "ValidationError",
        "Inference Component Name header is required for endpoints to which you plan to deploy "
        "inference components. Please include Inference Component Name header or consider "
        "using SageMaker models.",
    )
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=endpoint, InferenceComponentName="no-such-component", Body=b"{}"
        )
    assert error_of(caught)[0] == "ValidationError"
    assert "no-such-component" in error_of(caught)[1]

    name = unique("ic-empty")
    create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, InferenceComponentName=name, Body=b"{}")
    assert error_of(caught) == (
        "ValidationError",
        f"Inference component {name} of endpoint {endpoint} has no copies to serve the "
        f"request: the copy count of inference component {name} is 0. Raise it with "
        "UpdateInferenceComponentRuntimeConfig.",
    )
    delete_component(sm, name)


def test_the_placement_page(server: MoorageServer, endpoint: str) -> None:
    document = placement_of(server, endpoint)
    assert document["endpoint"] == endpoint
    [variant] = document["variants"]
    assert variant["variant"] == "AllTraffic"
    assert variant["instance_type"] == "ml.m5.large"
    assert variant["instances"][0]["vcpus"]["total"] == 2
    missing = request(server.url, "GET", "/moorage/placement/no-such-endpoint")
    assert missing.status == 400
    assert missing.json()["__type"] == "ValidationException"


def test_artifacts_the_fleet_cannot_fetch_are_refused_up_front(sm: Any, endpoint: str) -> None:
    name = unique("ic-prefix")
    with pytest.raises(ClientError) as caught:
        sm.create_inference_component(
            InferenceComponentName=name,
            EndpointName=endpoint,
            Specification={
                "Container": {"Image": "img", "ArtifactUrl": "s3://bucket/model/"},
                "ComputeResourceRequirements": compute(0.5, 512),
            },
            RuntimeConfig={"CopyCount": 1},
        )
    assert error_of(caught) == (
        "ValidationException",
        "Specification.Container.ArtifactUrl cannot be used: model data s3://bucket/model/ "
        "ends with '/', which names a prefix: use S3DataType S3Prefix for a prefix.",
    )
    assert name not in components_on(sm, endpoint)
