"""Models through a real server and a real boto3 client."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.names import unique

ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def container(**extra: Any) -> dict[str, Any]:
    return {"Image": "moorage/python:latest", "ModelDataUrl": "s3://bucket/model.tar.gz", **extra}


def test_create_describe_list_delete(sm: Any) -> None:
    name = unique("Model-Case")
    arn = sm.create_model(
        ModelName=name,
        PrimaryContainer=container(Environment={"A": "1"}),
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
    )["ModelArn"]
    assert arn == f"{ACCOUNT_ARN}:model/{name.lower()}"

    described = sm.describe_model(ModelName=name)
    assert described["ModelName"] == name
    assert described["ModelArn"] == arn
    assert described["PrimaryContainer"]["Environment"] == {"A": "1"}
    assert described["ExecutionRoleArn"].endswith("role/SageMakerRole")
    assert isinstance(described["CreationTime"], dt.datetime)
    assert described["EnableNetworkIsolation"] is False

    names = [m["ModelName"] for m in sm.list_models(NameContains=name)["Models"]]
    assert names == [name]

    sm.delete_model(ModelName=name)
    with pytest.raises(ClientError) as err:
        sm.describe_model(ModelName=name)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == f'Could not find model "{arn}".'


def test_duplicate_name_is_rejected_case_insensitively(sm: Any) -> None:
    name = unique("dup")
    sm.create_model(ModelName=name, PrimaryContainer=container())
    with pytest.raises(ClientError) as err:
        sm.create_model(ModelName=name.upper(), PrimaryContainer=container())
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        f'Cannot create already existing model "{ACCOUNT_ARN}:model/{name.lower()}".'
    )


def test_delete_missing_model(sm: Any) -> None:
    with pytest.raises(ClientError) as err:
        sm.delete_model(ModelName="never-created")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_containers_and_primary_are_exclusive(sm: Any) -> None:
    with pytest.raises(ClientError) as err:
        sm.create_model(
            ModelName=unique("both"), PrimaryContainer=container(), Containers=[container()]
        )
    assert "not both" in err.value.response["Error"]["Message"]


def test_one_container_as_containers_with_an_execution_config(sm: Any) -> None:
    name = unique("single")
    sm.create_model(
        ModelName=name,
        Containers=[container(ContainerHostname="main", Mode="SingleModel")],
        InferenceExecutionConfig={"Mode": "Serial"},
    )
    described = sm.describe_model(ModelName=name)
    assert [c["ContainerHostname"] for c in described["Containers"]] == ["main"]
    assert described["InferenceExecutionConfig"] == {"Mode": "Serial"}


def test_multi_model_and_multi_container_models_are_stored_as_given(sm: Any) -> None:
    mme = unique("mme")
    sm.create_model(
        ModelName=mme,
        PrimaryContainer=container(
            Mode="MultiModel",
            ModelDataUrl="s3://bucket/models/",
            MultiModelConfig={"ModelCacheSetting": "Disabled"},
        ),
    )
    described = sm.describe_model(ModelName=mme)["PrimaryContainer"]
    assert (described["Mode"], described["ModelDataUrl"]) == ("MultiModel", "s3://bucket/models/")
    assert described["MultiModelConfig"] == {"ModelCacheSetting": "Disabled"}
    pipeline = unique("pipeline")
    sm.create_model(
        ModelName=pipeline,
        Containers=[container(ContainerHostname=f"step-{i}") for i in range(15)],
        InferenceExecutionConfig={"Mode": "Direct"},
    )
    described = sm.describe_model(ModelName=pipeline)
    assert [c["ContainerHostname"] for c in described["Containers"]] == [
        f"step-{i}" for i in range(15)
    ]
    assert described["InferenceExecutionConfig"] == {"Mode": "Direct"}


def test_model_data_source_and_local_urls(sm: Any) -> None:
    prefix = unique("prefix")
    sm.create_model(
        ModelName=prefix,
        Containers=[
            {
                "Image": "img",
                "ModelDataSource": {
                    "S3DataSource": {
                        "S3Uri": "s3://bucket/prefix/",
                        "S3DataType": "S3Prefix",
                        "CompressionType": "None",
                    }
                },
            }
        ],
    )
    described = sm.describe_model(ModelName=prefix)
    source = described["Containers"][0]["ModelDataSource"]["S3DataSource"]
    assert source["S3DataType"] == "S3Prefix"
    local = unique("local")
    sm.create_model(
        ModelName=local,
        PrimaryContainer={"Image": "img", "ModelDataUrl": "file:///srv/models/model.tar.gz"},
    )
    described = sm.describe_model(ModelName=local)
    assert described["PrimaryContainer"]["ModelDataUrl"] == "file:///srv/models/model.tar.gz"


def _s3_source(uri: str, data_type: str, compression: str, **extra: Any) -> dict[str, Any]:
    source = {"S3Uri": uri, "S3DataType": data_type, "CompressionType": compression, **extra}
    return {"Image": "img", "ModelDataSource": {"S3DataSource": source}}


UNSUPPORTED: list[tuple[dict[str, Any], str]] = [
    (
        {"PrimaryContainer": {"Image": "img", "Mode": "MultiModel"}},
        "PrimaryContainer.ModelDataUrl is required with Mode MultiModel: the S3 prefix (or local "
        "folder) under which each TargetModel names a model archive.",
    ),
    (
        {
            "Containers": [
                {**_s3_source("s3://bucket/models/", "S3Prefix", "None"), "Mode": "MultiModel"}
            ]
        },
        "Containers.1.ModelDataSource cannot be used with Mode MultiModel: name the S3 prefix of "
        "the models in Containers.1.ModelDataUrl.",
    ),
    (
        {
            "Containers": [container(Mode="MultiModel"), container(Mode="MultiModel")],
            "InferenceExecutionConfig": {"Mode": "Serial"},
        },
        "Containers.1 and Containers.2 are both in Mode MultiModel: a serial inference pipeline "
        "may include only one multi-model container.",
    ),
    (
        {
            "Containers": [container(ContainerHostname="pre"), container()],
            "InferenceExecutionConfig": {"Mode": "Direct"},
        },
        "Containers.2.ContainerHostname is required: every container of a model with "
        "InferenceExecutionConfig.Mode Direct is invoked by its ContainerHostname.",
    ),
    (
        {
            "Containers": [
                container(ContainerHostname="pre"),
                container(ContainerHostname="mme", Mode="MultiModel"),
            ],
            "InferenceExecutionConfig": {"Mode": "Direct"},
        },
        "Containers.2.Mode MultiModel cannot be used with InferenceExecutionConfig.Mode Direct: "
        "a multi-model container can be the only container of a model or one step of a serial "
        "inference pipeline.",
    ),
    (
        {"Containers": [{"ModelPackageName": "my-package/1"}]},
        "moorage does not run model packages yet (Containers.1.ModelPackageName); name the "
        "container's Image and its model data instead; see docs/api-coverage.md",
    ),
    (
        {
            "PrimaryContainer": container(
                AdditionalModelDataSources=[
                    {
                        "ChannelName": "draft",
                        "S3DataSource": {
                            "S3Uri": "s3://bucket/draft/",
                            "S3DataType": "S3Prefix",
                            "CompressionType": "None",
                        },
                    }
                ]
            )
        },
        "moorage does not give a container additional model data yet "
        "(PrimaryContainer.AdditionalModelDataSources); see docs/api-coverage.md",
    ),
    (
        {"PrimaryContainer": _s3_source("s3://bucket/prefix/", "S3Prefix", "Gzip")},
        "PrimaryContainer.ModelDataSource cannot be used: model data s3://bucket/prefix/: "
        "CompressionType Gzip requires S3DataType S3Object (a prefix is read as uncompressed "
        "files).",
    ),
    (
        {
            "PrimaryContainer": _s3_source(
                "s3://bucket/prefix/", "S3Prefix", "None", ManifestS3Uri="s3://bucket/m.json"
            )
        },
        "PrimaryContainer.ModelDataSource cannot be used: model data s3://bucket/prefix/: "
        "S3DataSource.ManifestS3Uri is not supported.",
    ),
    (
        {"PrimaryContainer": container(ModelDataUrl="https://[bucket/model.tar.gz")},
        "PrimaryContainer.ModelDataUrl is not a usable URL: Invalid IPv6 URL.",
    ),
    (
        {"PrimaryContainer": container(ModelDataUrl="s3://bucket/models/")},
        "PrimaryContainer.ModelDataUrl cannot be used: model data s3://bucket/models/ ends "
        "with '/', which names a prefix: use S3DataType S3Prefix for a prefix.",
    ),
]


@pytest.mark.parametrize(("shape", "message"), UNSUPPORTED)
def test_models_moorage_cannot_run_are_refused_up_front(
    sm: Any, shape: dict[str, Any], message: str
) -> None:
    name = unique("unsupported")
    with pytest.raises(ClientError) as err:
        sm.create_model(ModelName=name, **shape)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == message
    # Nothing was stored.
    with pytest.raises(ClientError) as missing:
        sm.describe_model(ModelName=name)
    assert "Could not find model" in missing.value.response["Error"]["Message"]


def test_list_paging_sorting_and_time_filters(sm: Any) -> None:
    stem = unique("page")
    names = [f"{stem}-{i}" for i in range(5)]
    for name in names:
        sm.create_model(ModelName=name, PrimaryContainer=container())

    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = sm.list_models(
            NameContains=stem, MaxResults=2, SortBy="Name", SortOrder="Ascending", **token
        )
        assert len(page["Models"]) <= 2
        seen += [m["ModelName"] for m in page["Models"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert seen == sorted(names)

    newest_first = [m["ModelName"] for m in sm.list_models(NameContains=stem)["Models"]]
    assert newest_first == list(reversed(names))

    created = sm.describe_model(ModelName=names[2])["CreationTime"]
    after = [
        m["ModelName"]
        for m in sm.list_models(NameContains=stem, CreationTimeAfter=created)["Models"]
    ]
    assert set(after) == set(names[3:])
    before = [
        m["ModelName"]
        for m in sm.list_models(NameContains=stem, CreationTimeBefore=created)["Models"]
    ]
    assert set(before) == set(names[:2])


def test_bad_next_token(sm: Any) -> None:
    with pytest.raises(ClientError) as err:
        sm.list_models(NextToken="not-a-token")
    assert err.value.response["Error"]["Code"] == "ValidationException"
