"""An endpoint's whole life through boto3: S3 model data, waiters, JSON/CSV, streaming, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError, EventStreamError

from support.endpoints import (
    IMAGE,
    create_endpoint,
    create_model,
    delete,
    deploy,
    variant,
    wait_in_service,
)
from support.moto_s3 import MotoS3
from support.names import unique


def test_iris_from_s3_create_invoke_delete(
    esm: Any, runtime: Any, moto_s3: MotoS3, s3_bucket: str, iris_url: str
) -> None:
    archive = Path(urlparse(iris_url).path).read_bytes()
    moto_s3.client.put_object(Bucket=s3_bucket, Key="iris/model.tar.gz", Body=archive)
    name = unique("iris")
    create_model(esm, name, moto_s3.url(s3_bucket, "iris/model.tar.gz"))
    create_endpoint(esm, name, [variant("AllTraffic", name)])

    assert esm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating"
    wait_in_service(esm, name)

    described = esm.describe_endpoint(EndpointName=name)
    assert described["EndpointConfigName"] == name
    (summary,) = described["ProductionVariants"]
    assert summary["VariantName"] == "AllTraffic"
    assert summary["CurrentWeight"] == summary["DesiredWeight"] == 1.0
    assert summary["CurrentInstanceCount"] == summary["DesiredInstanceCount"] == 1
    (image,) = summary["DeployedImages"]
    assert image["SpecifiedImage"] == IMAGE
    assert image["ResolvedImage"]
    listed = esm.list_endpoints(NameContains=name, StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [name]

    answer = runtime.invoke_endpoint(
        EndpointName=name,
        ContentType="application/json",
        Body=json.dumps([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]),
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"] == "application/json"
    assert json.loads(answer["Body"].read())["predictions"] == [0, 2]

    csv = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Accept="text/csv", Body="6.7,3.0,5.2,2.3\n"
    )
    assert csv["ContentType"] == "text/csv"
    assert csv["Body"].read() == b"2"

    esm.delete_endpoint(EndpointName=name)
    assert esm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Deleting"
    esm.get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body="[]")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_streaming_example_streams_what_invoke_returns_whole(
    esm: Any, runtime: Any, streaming_url: str
) -> None:
    name = unique("stream")
    deploy(esm, name, streaming_url)
    request = json.dumps({"prompt": "the tide", "max_tokens": 30, "seed": 7})

    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, ContentType="application/json", Body=request
    )
    assert response["InvokedProductionVariant"] == "AllTraffic"
    parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
    assert len(parts) > 1
    whole = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=request)
    assert b"".join(parts) == whole["Body"].read()
    assert len(b"".join(parts).decode()) == 30
    delete(esm, name)


def test_stream_failure_arrives_as_model_stream_error(
    esm: Any, runtime: Any, toolbox_url: str
) -> None:
    name = unique("streamfail")
    deploy(esm, name, toolbox_url)
    ok = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, ContentType="application/json", Body='{"op": "stream", "n": 4}'
    )
    # Chunk boundaries are not preserved end to end (as with SageMaker); the bytes are.
    assert b"".join(e["PayloadPart"]["Bytes"] for e in ok["Body"]) == b"".join(
        f"chunk-{i};".encode() for i in range(4)
    )

    broken = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, ContentType="application/json", Body='{"op": "stream-fail"}'
    )
    received = []
    with pytest.raises(EventStreamError) as caught:
        for event in broken["Body"]:
            received.append(event["PayloadPart"]["Bytes"])
    assert received == [b"first;"]
    assert caught.value.response["Error"]["Code"] == "ModelStreamError"
    delete(esm, name)


def test_headers_pass_through_both_ways(esm: Any, runtime: Any, toolbox_url: str) -> None:
    name = unique("headers")
    deploy(esm, name, toolbox_url, Environment={"TOOLBOX_ENV": "from-model"})
    answer = runtime.invoke_endpoint(
        EndpointName=name,
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace=1",
        InferenceId="req-42",
        Body='{"op": "echo"}',
    )
    assert answer["CustomAttributes"] == "seen:trace=1"
    body = json.loads(answer["Body"].read())
    assert body["env"] == "from-model"
    assert body["tag"] == "toolbox"
    delete(esm, name)
