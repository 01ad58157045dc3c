"""InvokeEndpointAsync end to end: real server, real model processes, moto's S3, SNS and SQS.

One server for the module (it publishes to moto's SNS); each test deploys
its own asynchronous endpoint. Requests waiting without an instance, their
TTL and scaling to zero and back are in ``test_async_scaling.py`` (a server
on a fast clock); the SDK's ``AsyncPredictor`` in
``tests/sdk/test_sdk_async_inference.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from support import raw
from support.async_inference import (
    Topics,
    async_model_archive,
    deploy_async,
    read_object,
    sns_env,
    wait_for,
)
from support.endpoints import IMAGE, ROLE, delete, wait_in_service
from support.moto_s3 import CREDENTIALS, REGION, MotoS3
from support.names import unique
from support.server import MoorageServer, running


@pytest.fixture(scope="module")
def aserver(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[MoorageServer]:
    data = tmp_path_factory.mktemp("async-data")
    with running(data, env=sns_env(moto_s3), extra_args=("--metrics-sample-interval", "1")) as srv:
        yield srv


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return async_model_archive(tmp_path_factory.mktemp("async-model") / "model.tar.gz").as_uri()


@pytest.fixture(scope="module")
def topics(moto_s3: MotoS3) -> Topics:
    return Topics(moto_s3.endpoint_url)


def _kms_key(s3: MotoS3) -> str:
    kms = boto3.client("kms", endpoint_url=s3.endpoint_url, region_name=REGION, **CREDENTIALS)
    arn: str = kms.create_key(Description="async results")["KeyMetadata"]["Arn"]
    return arn


def _put(s3: MotoS3, bucket: str, key: str, payload: Any) -> str:
    s3.client.put_object(Bucket=bucket, Key=key, Body=json.dumps(payload).encode())
    return f"s3://{bucket}/{key}"


def test_answer_lands_in_the_output_path_and_success_is_notified(
    aserver: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str, topics: Topics
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-ok")
    success, error = topics.topic(unique("ok")), topics.topic(unique("err"))
    key = _kms_key(moto_s3)
    config = {
        "OutputConfig": {
            "S3OutputPath": f"s3://{s3_bucket}/out",
            "S3FailurePath": f"s3://{s3_bucket}/failed",
            "KmsKeyId": key,
            "NotificationConfig": {
                "SuccessTopic": success,
                "ErrorTopic": error,
                "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"],
            },
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
    }
    deploy_async(sm, name, model_url, config)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["AsyncInferenceConfig"] == config
    assert sm.describe_endpoint_config(EndpointConfigName=name)["AsyncInferenceConfig"] == config
    source = _put(moto_s3, s3_bucket, "in/one.json", {"op": "echo", "x": 1})

    reply = runtime.invoke_endpoint_async(
        EndpointName=name,
        InputLocation=source,
        ContentType="application/json",
        Accept="application/json",
        InferenceId="first-request",
        CustomAttributes="trace=1",
    )
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert reply["InferenceId"] == "first-request"
    output, failure = reply["OutputLocation"], reply["FailureLocation"]
    assert output.startswith(f"s3://{s3_bucket}/out/") and output.endswith(".out")
    assert failure.startswith(f"s3://{s3_bucket}/failed/") and failure.endswith("-error.out")
    body, content_type = wait_for(lambda: read_object(moto_s3, output))
    assert json.loads(body)["echo"] == {"op": "echo", "x": 1}
    assert content_type == "application/json"
    assert read_object(moto_s3, failure) is None
    # KmsKeyId: the answer is stored with SSE-KMS under that key.
    head = moto_s3.client.head_object(Bucket=s3_bucket, Key=output.split("/", 3)[3])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key

    (note,) = topics.messages(success, 1)
    assert note["invocationStatus"] == "Completed"
    assert note["inferenceId"] == "first-request"
    assert note["eventName"] == "InferenceResult" and note["eventSource"] == "aws:sagemaker"
    assert note["eventVersion"] == "1.0" and note["awsRegion"] == "us-east-1"
    assert note["requestParameters"] == {
        "accept": "application/json",
        "contentType": "application/json",
        "customAttributes": "trace=1",
        "endpointName": name,
        "inputLocation": source,
    }
    assert note["responseParameters"] == {
        "contentType": "application/json",
        "outputLocation": output,
    }
    assert note["receivedTime"].endswith("Z") and note["eventTime"] >= note["receivedTime"]
    assert base64.b64decode(note["responseBody"]["content"]) == body

    # An asynchronous endpoint takes no real-time invocations, as on SageMaker.
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "InvokeEndpointAsync" in refused.value.response["Error"]["Message"]
    delete(sm, name)


def test_failures_land_in_the_failure_path_and_are_notified(
    aserver: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str, topics: Topics
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-fail")
    error = topics.topic(unique("err"))
    config = {
        "OutputConfig": {
            "S3OutputPath": f"s3://{s3_bucket}/out",
            "S3FailurePath": f"s3://{s3_bucket}/failed",
            "NotificationConfig": {
                "ErrorTopic": error,
                "IncludeInferenceResponseIn": ["ERROR_NOTIFICATION_TOPIC"],
            },
        }
    }
    deploy_async(sm, name, model_url, config)
    failing = runtime.invoke_endpoint_async(
        EndpointName=name,
        InputLocation=_put(moto_s3, s3_bucket, "in/fail.json", {"op": "fail"}),
        ContentType="application/json",
    )
    missing = runtime.invoke_endpoint_async(
        EndpointName=name, InputLocation=f"s3://{s3_bucket}/in/nothing-here.json"
    )
    slow = runtime.invoke_endpoint_async(
        EndpointName=name,
        Body=json.dumps({"op": "sleep", "seconds": 4}),
        ContentType="application/json",
        InvocationTimeoutSeconds=1,
    )
    body, _ = wait_for(lambda: read_object(moto_s3, failing["FailureLocation"]))
    assert b"the model failed on purpose" in body
    assert read_object(moto_s3, failing["OutputLocation"]) is None
    reason, _ = wait_for(lambda: read_object(moto_s3, missing["FailureLocation"]))
    assert b"nothing-here.json" in reason and b"no object with key" in reason
    assert read_object(moto_s3, missing["OutputLocation"]) is None

    timed_out, _ = wait_for(lambda: read_object(moto_s3, slow["FailureLocation"]))
    assert b"timed out" in timed_out and b"after 1 seconds (InvocationTimeoutSeconds)" in timed_out
    assert read_object(moto_s3, slow["OutputLocation"]) is None

    notes = {n["inferenceId"]: n for n in topics.messages(error, 3)}
    model_failure = notes[failing["InferenceId"]]
    assert model_failure["invocationStatus"] == "Failed"
    assert model_failure["failureReason"].startswith(
        "ClientError: Received server error (500) from model."
    )
    assert model_failure["responseParameters"]["failureLocation"] == failing["FailureLocation"]
    assert base64.b64decode(model_failure["responseBody"]["content"]) == body
    download = notes[missing["InferenceId"]]
    assert "Could not download the request payload" in download["failureReason"]
    assert _metric_sum(aserver, "RequestDownloadFailures", name) == 1
    assert notes[slow["InferenceId"]]["failureReason"].startswith(
        "ClientError: Your invocation timed out"
    )
    assert _metric_sum(aserver, "InvocationFailures", name) == 3
    delete(sm, name)


def test_inline_bodies_local_files_and_no_failure_path(
    aserver: MoorageServer, tmp_path: Path, model_url: str
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-local")
    out = tmp_path / "results"
    deploy_async(sm, name, model_url, {"OutputConfig": {"S3OutputPath": out.as_uri()}})
    source = tmp_path / "input.json"
    source.write_text(json.dumps({"op": "echo", "from": "file"}))
    from_file = runtime.invoke_endpoint_async(
        EndpointName=name,
        InputLocation=source.as_uri(),
        ContentType="application/json",
        S3OutputPathExtension="daily/run-1",
        Filename="answer.json",
    )
    assert from_file["OutputLocation"] == (out / "daily" / "run-1" / "answer.json").as_uri()
    inline = runtime.invoke_endpoint_async(
        EndpointName=name,
        Body=json.dumps({"op": "echo", "from": "body"}),
        ContentType="application/json",
    )
    failed = runtime.invoke_endpoint_async(
        EndpointName=name, Body=json.dumps({"op": "fail"}), ContentType="application/json"
    )
    # Without S3FailurePath, failures are written beside the answers.
    assert failed["FailureLocation"].startswith(out.as_uri() + "/")
    for reply, origin in ((from_file, "file"), (inline, "body")):
        path = Path(reply["OutputLocation"].removeprefix("file://"))
        wait_for(lambda p=path: True if p.is_file() else None)
        assert json.loads(path.read_text())["echo"]["from"] == origin
    failure = Path(failed["FailureLocation"].removeprefix("file://"))
    wait_for(lambda: True if failure.is_file() else None)
    assert "the model failed on purpose" in failure.read_text()
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]
    delete(sm, name)


def test_concurrency_cap_holds_and_the_backlog_rises_and_drains(
    aserver: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-cap")
    config = {
        "OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
    }
    deploy_async(sm, name, model_url, config, workers=8)
    replies = [
        runtime.invoke_endpoint_async(
            EndpointName=name,
            Body=json.dumps({"op": "sleep", "seconds": 1.0, "n": n}),
            ContentType="application/json",
        )
        for n in range(8)
    ]
    answers = [
        json.loads(wait_for(lambda r=r: read_object(moto_s3, r["OutputLocation"]), 90)[0])
        for r in replies
    ]
    assert [a["n"] for a in answers] == list(range(8))
    assert max(a["inflight"] for a in answers) == 2
    assert max(a["peak"] for a in answers) == 2
    # FIFO: a request never starts before an earlier one.
    assert all(a["inflight"] <= 2 for a in answers)

    def drained() -> list[float] | None:
        values = _recent(aserver, "ApproximateBacklogSize", {"EndpointName": name})
        return values if values and values[0] == 0 else None

    values = wait_for(drained, 30)
    assert max(values) >= 6
    assert _metric_sum(aserver, "InvocationsProcesssed", name) == 8
    assert _metric_sum(aserver, "InvocationFailures", name) == 0
    delete(sm, name)


def _recent(server: MoorageServer, metric: str, dimensions: dict[str, str]) -> list[float]:
    """The metric's values per second over the last two minutes, newest first (Maximum)."""
    cw = server.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    [result] = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - dt.timedelta(minutes=2),
        EndTime=now + dt.timedelta(seconds=5),
        ScanBy="TimestampDescending",
    )["MetricDataResults"]
    return [float(v) for v in result["Values"]]


def _metric_sum(server: MoorageServer, metric: str, endpoint: str) -> float:
    cw = server.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_kill_9_with_a_backlog_answers_every_request_once_after_restart(
    tmp_path: Path, moto_s3: MotoS3, s3_bucket: str, model_url: str
) -> None:
    runs = tmp_path / "runs.txt"
    runs.touch()
    total = 50
    config = {
        "OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
    }
    data = tmp_path / "data"
    first = MoorageServer(data, env=sns_env(moto_s3)).start()
    try:
        deploy_async(first.sagemaker, "survivor", model_url, config)
        runtime = first.client("sagemaker-runtime")
        replies = [
            runtime.invoke_endpoint_async(
                EndpointName="survivor",
                Body=json.dumps({"op": "record", "path": str(runs), "n": n, "seconds": 0.3}),
                ContentType="application/json",
            )
            for n in range(total)
        ]
        wait_for(lambda: True if len(runs.read_text().split()) >= 6 else None, 60, 0.05)
        first.kill9()
    finally:
        first.stop()
    done_before = [r for r in replies if read_object(moto_s3, r["OutputLocation"])]
    assert len(done_before) < total

    with running(data, env=sns_env(moto_s3)) as second:
        answers = [
            json.loads(wait_for(lambda r=r: read_object(moto_s3, r["OutputLocation"]), 120)[0])
            for r in replies
        ]
        assert [a["n"] for a in answers] == list(range(total))
        # Every request has one answer, and no other object was written for it.
        listed = moto_s3.client.list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"]
        assert len(listed) == total
        counts = [int(line) for line in runs.read_text().split()]
        again = [n for n in set(counts) if counts.count(n) > 1]
        # Only what the model was running at the kill (no answer written yet) ran twice.
        assert len(again) <= 2, again
        # An answer written before the kill was never produced again.
        finished = {json.loads(_body(moto_s3, r["OutputLocation"]))["n"] for r in done_before}
        assert not finished & set(again)
        assert second.proc is not None


def _body(s3: MotoS3, url: str) -> bytes:
    found = read_object(s3, url)
    assert found is not None
    return found[0]


def test_malformed_requests_get_clean_errors_and_queue_nothing(
    aserver: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-bad")
    deploy_async(sm, name, model_url, {"OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out"}})
    path = f"/endpoints/{name}/async-invocations"
    good = {"X-Amzn-SageMaker-InputLocation": f"s3://{s3_bucket}/in/x.json"}
    cases: list[tuple[dict[str, str], bytes, str]] = [
        ({**good, "X-Amzn-SageMaker-RequestTTLSeconds": "59"}, b"", "greater than or equal to 60"),
        (
            {**good, "X-Amzn-SageMaker-RequestTTLSeconds": "21601"},
            b"",
            "less than or equal to 21600",
        ),
        (
            {**good, "X-Amzn-SageMaker-InvocationTimeoutSeconds": "0"},
            b"",
            "greater than or equal to 1",
        ),
        (
            {**good, "X-Amzn-SageMaker-InvocationTimeoutSeconds": "3601"},
            b"",
            "less than or equal to 3600",
        ),
        ({**good, "X-Amzn-SageMaker-RequestTTLSeconds": "soon"}, b"", "must be an integer"),
        ({}, b"", "InputLocation"),
        (good, b'{"inline": true}', "mutually exclusive"),
        ({"X-Amzn-SageMaker-InputLocation": "ftp://host/x"}, b"", "inputLocation"),
        ({"X-Amzn-SageMaker-InputLocation": "https://example.com/x"}, b"", "not an Amazon S3 URL"),
        ({**good, "X-Amzn-SageMaker-Inference-Id": "x" * 65}, b"", "inferenceId"),
        ({**good, "X-Amzn-SageMaker-Filename": "../escape"}, b"", "filename"),
        (
            {**good, "X-Amzn-SageMaker-S3OutputPathExtension": "s3://elsewhere"},
            b"",
            "s3OutputPathExtension",
        ),
        ({}, b"x" * 128_001, "128000 bytes"),
    ]
    for headers, body, expected in cases:
        reply = raw.request(aserver.url, "POST", path, body, headers)
        assert reply.status == 400, (headers, reply.body)
        assert reply.headers.get("x-amzn-errortype") == "ValidationError"
        assert expected in reply.json()["message"], (expected, reply.json())

    def refused(endpoint: str) -> str:
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint_async(
                EndpointName=endpoint, InputLocation=good["X-Amzn-SageMaker-InputLocation"]
            )
        error = caught.value.response["Error"]
        assert error["Code"] == "ValidationError"
        return str(error["Message"])

    assert (
        refused("no-such-endpoint")
        == "Endpoint no-such-endpoint of account 123456789012 not found."
    )
    realtime = unique("realtime")
    sm.create_model(
        ModelName=realtime,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=realtime,
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": realtime,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=realtime, EndpointConfigName=realtime)
    assert "not configured for asynchronous inference" in refused(realtime)
    sm.delete_endpoint(EndpointName=realtime)

    unsigned = raw.request(aserver.url, "POST", path, b"", good, sign=False)
    assert unsigned.status == 403
    wrong_method = raw.request(aserver.url, "GET", path, b"", good)
    assert wrong_method.status == 404

    with pytest.raises(ClientError) as no_output:
        sm.create_endpoint_config(
            EndpointConfigName=unique("no-output"),
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": name,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            AsyncInferenceConfig={"OutputConfig": {"S3FailurePath": f"s3://{s3_bucket}/f"}},
        )
    assert "S3OutputPath is required" in no_output.value.response["Error"]["Message"]

    # Nothing was queued or written by any of it.
    assert "Contents" not in moto_s3.client.list_objects_v2(Bucket=s3_bucket)
    waiting = _recent(aserver, "ApproximateBacklogSize", {"EndpointName": name})
    assert not any(waiting)
    delete(sm, name)


def test_an_unreachable_topic_is_retried_without_holding_the_queue(
    aserver: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str, topics: Topics
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-retry")
    topic_name = unique("later")
    # The topic does not exist yet: SNS refuses every publication to it.
    topic = f"arn:aws:sns:{REGION}:123456789012:{topic_name}"
    config = {
        "OutputConfig": {
            "S3OutputPath": f"s3://{s3_bucket}/out",
            "NotificationConfig": {"SuccessTopic": topic},
        }
    }
    deploy_async(sm, name, model_url, config)
    replies = [
        runtime.invoke_endpoint_async(
            EndpointName=name,
            Body=json.dumps({"op": "echo", "n": n}),
            ContentType="application/json",
        )
        for n in range(3)
    ]
    for reply in replies:
        wait_for(lambda r=reply: read_object(moto_s3, r["OutputLocation"]))
    wait_for(lambda: True if _metric_sum(aserver, "NotificationFailures", name) >= 3 else None)
    # Once the topic exists, the retries deliver every notification, once.
    assert topics.topic(topic_name) == topic
    notes = topics.messages(topic, 3, timeout=60)
    assert sorted(n["inferenceId"] for n in notes) == sorted(r["InferenceId"] for r in replies)
    assert {n["invocationStatus"] for n in notes} == {"Completed"}
    delete(sm, name)


def _async_config(sm: Any, name: str, model: str, bucket: str, count: int, cap: int) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": count,
            }
        ],
        AsyncInferenceConfig={
            "OutputConfig": {"S3OutputPath": f"s3://{bucket}/out"},
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": cap},
        },
    )


def test_update_endpoint_carries_the_queue_over(
    aserver: MoorageServer, moto_s3: MotoS3, s3_bucket: str, model_url: str
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-upd")
    config = {
        "OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1},
    }
    deploy_async(sm, name, model_url, config)
    replies = [
        runtime.invoke_endpoint_async(
            EndpointName=name,
            Body=json.dumps({"op": "sleep", "seconds": 0.5, "n": n}),
            ContentType="application/json",
        )
        for n in range(10)
    ]
    first = json.loads(wait_for(lambda: read_object(moto_s3, replies[0]["OutputLocation"]))[0])
    # A real-time config cannot replace an asynchronous one (AWS's refusal).
    realtime = unique("async-upd-rt")
    sm.create_endpoint_config(
        EndpointConfigName=realtime,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=realtime)
    assert refused.value.response["Error"]["Message"].startswith(
        f"The AsyncInferenceConfig parameter cannot be removed from this endpoint {name}."
    )
    # Blue/green to two instances while the backlog waits.
    newer = unique("async-upd-v2")
    _async_config(sm, newer, name, s3_bucket, count=2, cap=1)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=newer)
    answers = [
        json.loads(wait_for(lambda r=r: read_object(moto_s3, r["OutputLocation"]), 90)[0])
        for r in replies
    ]
    wait_in_service(sm, name)
    assert [a["n"] for a in answers] == list(range(10))
    # Each answered once: one object per request, none failed.
    for reply in replies:
        assert read_object(moto_s3, reply["FailureLocation"]) is None
    after = [
        runtime.invoke_endpoint_async(
            EndpointName=name,
            Body=json.dumps({"op": "sleep", "seconds": 0.1}),
            ContentType="application/json",
        )
        for _ in range(4)
    ]
    pids = {
        json.loads(wait_for(lambda r=r: read_object(moto_s3, r["OutputLocation"]), 60)[0])["pid"]
        for r in after
    }
    assert first["pid"] not in pids
    sm.delete_endpoint_config(EndpointConfigName=realtime)
    sm.delete_endpoint_config(EndpointConfigName=newer)
    delete(sm, name)


def test_delete_endpoint_finishes_running_requests_and_fails_waiting_ones(
    aserver: MoorageServer,
    moto_s3: MotoS3,
    s3_bucket: str,
    model_url: str,
    topics: Topics,
    tmp_path: Path,
) -> None:
    sm, runtime = aserver.sagemaker, aserver.client("sagemaker-runtime")
    name = unique("async-del")
    error = topics.topic(unique("err"))
    config = {
        "OutputConfig": {
            "S3OutputPath": f"s3://{s3_bucket}/out",
            "NotificationConfig": {"ErrorTopic": error},
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1},
    }
    deploy_async(sm, name, model_url, config)
    runs = tmp_path / "runs.txt"
    runs.touch()
    running_one = runtime.invoke_endpoint_async(
        EndpointName=name,
        Body=json.dumps({"op": "record", "path": str(runs), "n": 0, "seconds": 3}),
        ContentType="application/json",
    )
    waiting = [
        runtime.invoke_endpoint_async(
            EndpointName=name,
            Body=json.dumps({"op": "record", "path": str(runs), "n": n}),
            ContentType="application/json",
        )
        for n in range(1, 4)
    ]
    wait_for(lambda: True if runs.read_text().split() else None, 30, 0.05)
    sm.delete_endpoint(EndpointName=name)
    body, _ = wait_for(lambda: read_object(moto_s3, running_one["OutputLocation"]), 60)
    assert json.loads(body) == {"n": 0}
    for reply in waiting:
        reason, _ = wait_for(lambda r=reply: read_object(moto_s3, r["FailureLocation"]), 60)
        assert f"Endpoint {name} was deleted before request".encode() in reason
        assert read_object(moto_s3, reply["OutputLocation"]) is None
    notes = topics.messages(error, 3)
    assert {n["inferenceId"] for n in notes} == {r["InferenceId"] for r in waiting}
    assert runs.read_text().split() == ["0"]
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)
