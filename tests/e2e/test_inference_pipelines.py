"""Multi-container models end to end: serial inference pipelines and containers invoked directly.

Each container is a model server process of its own, started from its own
archive (:func:`support.multi_models.stage_archive`): a step appends
``TAG<content-type|accept>`` to what it was sent, so an answer shows the
path a request took and the types each container saw.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.endpoints import IMAGE, ROLE, create_endpoint, delete, variant, wait_in_service
from support.multi_models import stage_archive
from support.server import MoorageServer


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    folder = tmp_path_factory.mktemp("stages")

    def url(tag: str) -> str:
        return stage_archive(folder / f"{tag}.tar.gz", tag).as_uri()

    return url


XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def container(url: str, hostname: str | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"Image": IMAGE, "ModelDataUrl": url, **extra}
    if hostname is not None:
        spec["ContainerHostname"] = hostname
    return spec


def deploy_containers(
    server: MoorageServer, name: str, containers: list[dict[str, Any]], mode: str | None = None
) -> None:
    sm = server.sagemaker
    extra: dict[str, Any] = {"InferenceExecutionConfig": {"Mode": mode}} if mode else {}
    sm.create_model(ModelName=name, Containers=containers, ExecutionRoleArn=ROLE, **extra)
    create_endpoint(sm, name, [variant("AllTraffic", name)])
    wait_in_service(sm, name)


def refused(call: Any, **kwargs: Any) -> tuple[str, str, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response


def test_a_serial_pipeline_of_three_containers_transforms_as_chained(
    serving: MoorageServer, runtime: Any, stage: Callable[[str], str]
) -> None:
    name = "pipeline-three"
    deploy_containers(
        serving,
        name,
        [
            container(stage("pre")),
            # Answers CSV when asked for nothing in particular, as a preprocessor
            # feeding a CSV model is set up in SageMaker's pipeline examples.
            container(
                stage("mid"), Environment={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}
            ),
            container(stage("post")),
        ],
    )
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=name,
            Body=json.dumps(["in"]),
            ContentType="application/json",
            Accept="application/json",
        )
        assert answer["ContentType"] == "application/json"
        assert json.loads(answer["Body"].read()) == [
            "in",
            # The others are asked for their default type: the caller's Accept
            # reaches the last container only.
            "pre<application/json|application/json>",
            "mid<application/json|text/csv>",
            "post<text/csv|application/json>",  # typed as mid answered
        ]
        # The last container answers in the caller's Accept.
        answer = runtime.invoke_endpoint(
            EndpointName=name, Body="a,b", ContentType="text/csv", Accept="text/csv"
        )
        assert answer["ContentType"] == "text/csv"
        assert answer["Body"].read().decode() == (
            "a,b,pre<text/csv|application/json>,mid<application/json|text/csv>,"
            "post<text/csv|text/csv>"
        )
        described = serving.sagemaker.describe_endpoint(EndpointName=name)
        images = described["ProductionVariants"][0]["DeployedImages"]
        assert {image["SpecifiedImage"] for image in images} == {IMAGE}
        code, message, _ = refused(
            runtime.invoke_endpoint,
            EndpointName=name,
            Body=b"[]",
            ContentType="application/json",
            TargetContainerHostname="container-1",
        )
        assert code == "ValidationError" and "direct invocation" in message
        code, message, _ = refused(
            runtime.invoke_endpoint,
            EndpointName=name,
            Body=b"[]",
            ContentType="application/json",
            TargetModel="m.tar.gz",
        )
        assert code == "ValidationError" and "not a multi-model endpoint" in message
    finally:
        delete(serving.sagemaker, name)


def test_a_failing_step_ends_the_chain_with_a_model_error(
    serving: MoorageServer, runtime: Any, stage: Callable[[str], str]
) -> None:
    name = "pipeline-failing"
    deploy_containers(
        serving, name, [container(stage("first")), container(stage("failing"), "scorer")]
    )
    try:
        code, _, response = refused(
            runtime.invoke_endpoint, EndpointName=name, Body=b"[]", ContentType="application/json"
        )
        assert code == "ModelError" and response["OriginalStatusCode"] >= 400
        assert response["LogStreamArn"].endswith("/scorer")
        assert "fails on purpose" in response["OriginalMessage"]
    finally:
        delete(serving.sagemaker, name)


def test_direct_invocation_runs_the_named_container_only(
    serving: MoorageServer, runtime: Any, stage: Callable[[str], str]
) -> None:
    name = "direct-two"
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    deploy_containers(
        serving,
        name,
        [container(stage("alpha"), "alpha"), container(stage("beta"), "beta", Image=XGBOOST)],
        mode="Direct",
    )
    try:
        described = serving.sagemaker.describe_endpoint(EndpointName=name)
        images = described["ProductionVariants"][0]["DeployedImages"]
        assert sorted(image["SpecifiedImage"] for image in images) == sorted([IMAGE, XGBOOST])
        for host in ("beta", "alpha", "beta"):
            answer = runtime.invoke_endpoint(
                EndpointName=name,
                Body=b"[]",
                ContentType="application/json",
                Accept="application/json",
                TargetContainerHostname=host,
            )
            assert json.loads(answer["Body"].read()) == [
                f"{host}<application/json|application/json>"
            ]
        call = runtime.invoke_endpoint
        body = {"EndpointName": name, "Body": b"[]", "ContentType": "application/json"}
        code, message, _ = refused(call, **body)
        assert code == "ValidationError" and "TargetContainerHostname" in message
        code, message, _ = refused(call, TargetContainerHostname="gamma", **body)
        assert code == "ValidationError" and "gamma" in message and "alpha, beta" in message
        # Per-container metrics, with SageMaker's dimensions.
        cloudwatch = serving.client("cloudwatch")

        def total(metric: str, host: str, stat: str = "SampleCount") -> float:
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/SageMaker",
                MetricName=metric,
                Dimensions=[
                    {"Name": "EndpointName", "Value": name},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                    {"Name": "ContainerName", "Value": host},
                ],
                StartTime=since,
                EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
                Period=3600,
                Statistics=[stat],
            )["Datapoints"]
            return float(points[0][stat]) if points else 0.0

        assert total("Invocations", "beta", "Sum") == 2
        assert total("Invocations", "alpha", "Sum") == 1
        assert total("ContainerLatency", "beta") == 2
        assert total("OverheadLatency", "alpha") == 1
        assert total("Invocation4XXErrors", "beta", "Sum") == 0
        # Each container logs to a stream of its own, {VariantName}/{instance-id}/{container}.
        streams = serving.client("logs").describe_log_streams(
            logGroupName=f"/aws/sagemaker/Endpoints/{name}"
        )["logStreams"]
        names = sorted(stream["logStreamName"] for stream in streams)
        assert [n.split("/")[0] for n in names] == ["AllTraffic", "AllTraffic"]
        assert [n.split("/")[2] for n in names] == ["alpha", "beta"]
    finally:
        delete(serving.sagemaker, name)


def test_multi_container_models_are_checked_when_created(
    serving: MoorageServer, stage: Callable[[str], str]
) -> None:
    sm = serving.sagemaker
    url = stage("limits")
    code, message, _ = refused(
        sm.create_model,
        ModelName="direct-unnamed",
        Containers=[container(url, "one"), container(url)],
        InferenceExecutionConfig={"Mode": "Direct"},
        ExecutionRoleArn=ROLE,
    )
    assert code == "ValidationException" and "ContainerHostname" in message
    code, _, _ = refused(
        sm.create_model,
        ModelName="too-many-containers",
        Containers=[container(url) for _ in range(16)],
        ExecutionRoleArn=ROLE,
    )
    assert code == "ValidationException"
    for model in ("direct-unnamed", "too-many-containers"):
        code, _, _ = refused(sm.describe_model, ModelName=model)
        assert code == "ValidationException"


def test_fifteen_containers_run_as_one_pipeline(
    serving: MoorageServer, runtime: Any, tmp_path: Path, stage: Callable[[str], str]
) -> None:
    name = "pipeline-fifteen"
    deploy_containers(serving, name, [container(stage(f"s{i}")) for i in range(15)])
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=name, Body=b"[]", ContentType="application/json"
        )
        steps = json.loads(answer["Body"].read())
        assert [step.split("<")[0] for step in steps] == [f"s{i}" for i in range(15)]
    finally:
        delete(serving.sagemaker, name)
