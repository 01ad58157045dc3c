"""Notifications of finished requests: AWS's message body, published to SNS.

:func:`message` builds the JSON SageMaker publishes to the config's
``SuccessTopic`` or ``ErrorTopic`` (``eventName`` ``InferenceResult``,
``invocationStatus`` ``Completed`` or ``Failed``, the request's parameters,
where the result went, and ``failureReason`` for a failure). When
``IncludeInferenceResponseIn`` names the topic and the response is 128 KB or
less, ``responseBody`` carries it, base64-encoded. It is pure: the
dispatcher passes the times.

:class:`SnsPublisher` publishes through botocore's SNS client for the
topic's region, so ``AWS_ENDPOINT_URL_SNS`` (or ``AWS_ENDPOINT_URL``) sends
it to any SNS-compatible service; with no credentials configured and an
endpoint that is not AWS's, it signs with placeholder keys as the S3 client
does (:func:`moorage.artifacts.s3.make_s3_client`). It blocks: the
dispatcher calls it in a worker thread and retries a failure with backoff
(:mod:`moorage.async_inference.notifier`).
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from moorage.artifacts.s3 import PLACEHOLDER_ACCESS_KEY, PLACEHOLDER_SECRET_KEY, is_aws_endpoint
from moorage.async_inference.config import MAX_NOTIFIED_BODY_BYTES
from moorage.async_inference.request import AsyncRequest, Outcome, Status

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15
)


class NotifyError(Exception):
    """A notification could not be published (the message says why)."""


def timestamp(epoch: float) -> str:
    """``2022-01-25T22:46:00.608Z``, as the notifications write times."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def topic_of(request: AsyncRequest, outcome: Outcome) -> str | None:
    notes = request.notifications
    return notes.success_topic if outcome.status is Status.COMPLETED else notes.error_topic


def message(request: AsyncRequest, outcome: Outcome, region: str) -> dict[str, Any]:
    """The notification of ``request``'s ``outcome`` (see the module)."""
    params: dict[str, Any] = {}
    for key, value in (
        ("accept", request.accept),
        ("contentType", request.content_type),
        ("customAttributes", request.custom_attributes),
        ("endpointName", request.endpoint),
        ("inputLocation", request.input_location),
    ):
        if value is not None:
            params[key] = value
    body: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": timestamp(outcome.finished),
        "receivedTime": timestamp(request.received),
        "invocationStatus": outcome.status.value,
    }
    response: dict[str, Any] = {}
    if outcome.content_type is not None:
        response["contentType"] = outcome.content_type
    if outcome.status is Status.COMPLETED:
        response["outputLocation"] = request.output_location
    else:
        body["failureReason"] = outcome.failure_reason or "Unknown failure."
        response["failureLocation"] = request.failure_location
    body["requestParameters"] = params
    body["responseParameters"] = response
    included = (
        request.notifications.include_in_success
        if outcome.status is Status.COMPLETED
        else request.notifications.include_in_error
    )
    if included and outcome.body is not None and len(outcome.body) <= MAX_NOTIFIED_BODY_BYTES:
        body["responseBody"] = {
            "content": base64.b64encode(outcome.body).decode(),
            "encoding": "BASE64",
        }
    body["inferenceId"] = request.inference_id
    body["eventVersion"] = "1.0"
    body["eventSource"] = "aws:sagemaker"
    body["eventName"] = "InferenceResult"
    return body


def topic_region(topic_arn: str) -> str:
    parts = topic_arn.split(":")
    return parts[3] if len(parts) > 5 and parts[3] else "us-east-1"


class SnsPublisher:
    """One botocore SNS client per region (thread-safe, made on first use)."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str) -> Any:
        with self._lock:
            found = self._clients.get(region)
            if found is None:
                found = self._clients[region] = _make_client(region)
            return found

    def publish(self, topic_arn: str, body: dict[str, Any]) -> None:
        try:
            client = self._client(topic_region(topic_arn))
            client.publish(TopicArn=topic_arn, Message=json.dumps(body, separators=(",", ":")))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise NotifyError(
                f"SNS refused the notification to {topic_arn}: "
                f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
            ) from None
        except BotoCoreError as exc:
            raise NotifyError(f"could not publish to {topic_arn}: {exc}") from None


def _make_client(region: str) -> Any:
    session = botocore.session.Session()
    client = session.create_client("sns", region_name=region, config=_CLIENT_CONFIG)
    if session.get_credentials() is None and not is_aws_endpoint(client.meta.endpoint_url):
        client = session.create_client(
            "sns",
            region_name=region,
            config=_CLIENT_CONFIG,
            aws_access_key_id=PLACEHOLDER_ACCESS_KEY,
            aws_secret_access_key=PLACEHOLDER_SECRET_KEY,
        )
    return client
