"""Helpers for asynchronous inference tests: a model, endpoints, S3 and SNS → SQS.

``async_model_archive`` builds a model whose behaviour each request picks:
``{"op": "echo"}`` answers the request back; ``{"op": "fail"}`` raises (the
model server answers 500); ``{"op": "sleep", "seconds": s}`` sleeps and
reports how many requests were in flight in the process when it started
(``inflight``), the most it ever saw (``peak``) and its process (``pid``); ``{"op": "record",
"path": p, "n": n}`` appends ``n`` to the file ``p`` (every run leaves a
line: tests count how often the model ran a request), then sleeps
``seconds`` if given. Every answer is JSON.

``Topics`` makes SNS topics in moto's server with an SQS queue subscribed
(raw delivery off, as SageMaker's notifications arrive wrapped in SNS's
envelope) and reads the notifications back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3

from support.archives import write_archive
from support.endpoints import create_model, wait_in_service
from support.moto_s3 import CREDENTIALS, REGION, MotoS3

T = TypeVar("T")

ASYNC_MODEL = {
    "code/inference.py": """
        import json
        import os
        import threading
        import time

        _lock = threading.Lock()
        _state = {"inflight": 0, "peak": 0}


        def model_fn(model_dir, context):
            return {}


        def input_fn(input_data, content_type, context):
            return json.loads(input_data)


        def predict_fn(data, model, context):
            op = data.get("op", "echo")
            if op == "fail":
                raise ValueError("the model failed on purpose")
            if op == "record":
                with open(data["path"], "a") as out:
                    out.write(f"{data['n']}\\n")
                time.sleep(float(data.get("seconds", 0)))
                return {"n": data["n"]}
            if op == "sleep":
                with _lock:
                    _state["inflight"] += 1
                    inflight = _state["inflight"]
                    _state["peak"] = max(_state["peak"], inflight)
                try:
                    time.sleep(float(data["seconds"]))
                finally:
                    with _lock:
                        _state["inflight"] -= 1
                return {
                    "inflight": inflight,
                    "peak": _state["peak"],
                    "n": data.get("n"),
                    "pid": os.getpid(),
                }
            return {"echo": data, "pid": os.getpid()}


        def output_fn(prediction, accept, context):
            return json.dumps(prediction), "application/json"
    """,
}


def async_model_archive(path: Path) -> Path:
    return write_archive(path, ASYNC_MODEL)


def deploy_async(
    sm: Any,
    name: str,
    model_url: str,
    async_config: dict[str, Any],
    *,
    count: int = 1,
    workers: int = 8,
) -> None:
    """Model, async endpoint config and endpoint all named ``name``; returns once InService."""
    create_model(sm, name, model_url, Environment={"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)})
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": count,
            }
        ],
        AsyncInferenceConfig=async_config,
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, every: float = 0.2) -> T:
    """Call ``check`` until it returns something other than None (or fail)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout} s")
        time.sleep(every)


def split_s3(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def read_object(s3: MotoS3, url: str) -> tuple[bytes, str] | None:
    """The object at ``url`` and its content type, or None while it does not exist."""
    bucket, key = split_s3(url)
    try:
        reply = s3.client.get_object(Bucket=bucket, Key=key)
    except s3.client.exceptions.NoSuchKey:
        return None
    return reply["Body"].read(), reply.get("ContentType", "")


def sns_env(s3: MotoS3) -> dict[str, str]:
    """What a moorage server needs to publish to moto's SNS (and read its S3)."""
    return {**s3.env(), "AWS_ENDPOINT_URL_SNS": s3.endpoint_url}


@dataclass
class Topics:
    """SNS topics in moto's server, each with an SQS queue subscribed."""

    endpoint_url: str

    def __post_init__(self) -> None:
        args = {"endpoint_url": self.endpoint_url, "region_name": REGION, **CREDENTIALS}
        self.sns: Any = boto3.client("sns", **args)
        self.sqs: Any = boto3.client("sqs", **args)
        self.queues: dict[str, str] = {}

    def topic(self, name: str) -> str:
        arn: str = self.sns.create_topic(Name=name)["TopicArn"]
        queue_url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        self.queues[arn] = queue_url
        return arn

    def messages(self, topic_arn: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The next ``count`` notifications published to the topic (their JSON messages)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} notifications after {timeout} s")
            reply = self.sqs.receive_message(
                QueueUrl=self.queues[topic_arn], MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for item in reply.get("Messages", []):
                envelope = json.loads(item["Body"])
                found.append(json.loads(envelope["Message"]))
                self.sqs.delete_message(
                    QueueUrl=self.queues[topic_arn], ReceiptHandle=item["ReceiptHandle"]
                )
        return found
