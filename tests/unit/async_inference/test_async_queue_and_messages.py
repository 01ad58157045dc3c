"""The pure parts of asynchronous inference: the request state machine, the
durable queue over a real SQLite store, result locations, the notification
body and the notifier's backoff."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from moorage.async_inference.config import (
    AsyncConfig,
    Notifications,
    check_async_config,
    check_async_kept,
)
from moorage.async_inference.notifier import MAX_BACKOFF_S, backoff
from moorage.async_inference.notify import message, timestamp
from moorage.async_inference.payloads import result_locations
from moorage.async_inference.queue import AsyncQueue
from moorage.async_inference.request import (
    AsyncRequest,
    BadTransition,
    Event,
    Outcome,
    State,
    Status,
    advance,
)
from moorage.errors import ValidationError
from moorage.store.sqlite import SqliteStore


def _request(queue: AsyncQueue, endpoint: str = "ep") -> AsyncRequest:
    seq = queue.next_seq()
    return AsyncRequest(
        request_id=f"req-{seq}",
        seq=seq,
        endpoint=endpoint,
        inference_id=f"inf-{seq}",
        received=1000.0 + seq,
        ttl_s=60,
        timeout_s=900,
        output_location=f"s3://b/out/req-{seq}.out",
        failure_location=f"s3://b/out/req-{seq}-error.out",
        inline_body=b'{"n": %d}' % seq,
    )


def test_only_the_listed_transitions_are_allowed() -> None:
    assert advance(State.RECEIVED, Event.CLAIM) is State.RUNNING
    assert advance(State.RUNNING, Event.WRITE) is State.WRITTEN
    assert advance(State.RUNNING, Event.REQUEUE) is State.RECEIVED
    assert advance(State.RECEIVED, Event.EXPIRE) is State.WRITTEN
    for state, event in (
        (State.RECEIVED, Event.WRITE),
        (State.WRITTEN, Event.CLAIM),
        (State.RUNNING, Event.EXPIRE),
        (State.WRITTEN, Event.REQUEUE),
    ):
        with pytest.raises(BadTransition):
            advance(state, event)


def test_the_queue_is_fifo_per_endpoint_and_survives_a_restart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db")
    queue = AsyncQueue(store)
    queue.load()
    accepted = [_request(queue, "ep" if n % 2 else "other") for n in range(6)]
    for request in accepted:
        queue.accept(request, 2000.0)
    assert [r.request_id for r in queue.waiting("EP")] == ["req-2", "req-4", "req-6"]

    first = queue.claim("ep", 2001.0)
    assert first is not None and first.request.request_id == "req-2" and not first.recovered
    second = queue.claim("ep", 2001.0)
    assert second is not None
    done = queue.written(
        second.request, Outcome(Status.COMPLETED, content_type="application/json"), 2002.0
    )
    assert done.state is State.WRITTEN
    assert queue.counts("ep") == (1, 1)
    store.close()

    # As after a kill -9: everything comes back from the store, in order.
    reopened = SqliteStore(tmp_path / "db")
    again = AsyncQueue(reopened)
    again.load()
    assert [r.request_id for r in again.waiting("ep")] == ["req-2", "req-6"]
    assert [r.request_id for r in again.waiting("other")] == ["req-1", "req-3", "req-5"]
    assert [r.request_id for r in again.unnotified()] == ["req-4"]
    recovered = again.claim("ep", 3000.0)
    assert recovered is not None and recovered.recovered
    assert recovered.request.inline_body == b'{"n": 2}'
    assert recovered.request.started == 3000.0
    # New requests queue after the old ones.
    newer = _request(again, "ep")
    assert newer.seq == 7
    again.accept(newer, 3001.0)
    assert [r.request_id for r in again.waiting("ep")] == ["req-6", "req-7"]
    reopened.close()


def test_an_expired_request_leaves_the_queue_written(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db")
    queue = AsyncQueue(store)
    queue.load()
    request = _request(queue)
    queue.accept(request, 1.0)
    assert not request.expired(request.received + 59.9)
    assert request.expired(request.received + 60)
    outcome = Outcome(Status.FAILED, failure_reason="expired", finished=2.0)
    done = queue.expire(request, outcome, 2.0)
    assert done.state is State.WRITTEN and done.outcome == outcome
    assert queue.counts("ep") == (0, 0) and queue.endpoints() == []
    queue.done(done)
    assert store.list_records("async-invocation") == []
    store.close()


def test_result_locations() -> None:
    places = result_locations("s3://b/out/", "s3://b/failed", "uuid-1")
    assert (places.output, places.failure) == (
        "s3://b/out/uuid-1.out",
        "s3://b/failed/uuid-1-error.out",
    )
    named = result_locations("s3://b/out", None, "uuid-1", extension="/day/1/", filename="a.json")
    assert (named.output, named.failure) == (
        "s3://b/out/day/1/a.json",
        "s3://b/out/day/1/a.json-error.out",
    )


def test_the_notification_body_is_awss() -> None:
    request = AsyncRequest(
        request_id="r",
        seq=1,
        endpoint="ep",
        inference_id="inf",
        received=1643150760.455,
        ttl_s=60,
        timeout_s=900,
        output_location="s3://b/o.out",
        failure_location="s3://b/o-error.out",
        input_location="s3://b/in.json",
        content_type="application/json",
        notifications=Notifications(success_topic="arn:s", include_in_success=True),
    )
    body = message(
        request,
        Outcome(Status.COMPLETED, "text/csv", body=b"1,2", finished=1643150760.608),
        "eu-west-1",
    )
    assert body == {
        "awsRegion": "eu-west-1",
        "eventTime": "2022-01-25T22:46:00.608Z",
        "receivedTime": "2022-01-25T22:46:00.455Z",
        "invocationStatus": "Completed",
        "requestParameters": {
            "contentType": "application/json",
            "endpointName": "ep",
            "inputLocation": "s3://b/in.json",
        },
        "responseParameters": {"contentType": "text/csv", "outputLocation": "s3://b/o.out"},
        "responseBody": {"content": base64.b64encode(b"1,2").decode(), "encoding": "BASE64"},
        "inferenceId": "inf",
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }
    failed = message(
        request, Outcome(Status.FAILED, failure_reason="ClientError: no", body=b"x"), "eu-west-1"
    )
    assert failed["failureReason"] == "ClientError: no"
    assert failed["responseParameters"] == {"failureLocation": "s3://b/o-error.out"}
    assert "responseBody" not in failed  # not asked for on the error topic
    big = message(request, Outcome(Status.COMPLETED, body=b"x" * (128 * 1024 + 1)), "r")
    assert "responseBody" not in big
    assert timestamp(0.0) == "1970-01-01T00:00:00.000Z"


def test_notification_backoff_doubles_up_to_a_limit() -> None:
    assert [backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff(30) == MAX_BACKOFF_S


def test_config_checks() -> None:
    variant = {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.m5.large"}
    with pytest.raises(ValidationError, match="S3OutputPath is required"):
        check_async_config({"ProductionVariants": [variant], "AsyncInferenceConfig": {}})
    with pytest.raises(ValidationError, match="ServerlessConfig is not supported"):
        check_async_config(
            {
                "ProductionVariants": [{"VariantName": "v", "ServerlessConfig": {}}],
                "AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://b/o"}},
            }
        )
    spec = {"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://b/o"}}}
    assert AsyncConfig.parse(spec["AsyncInferenceConfig"]).max_concurrency == 4
    check_async_kept("ep", spec, spec)
    check_async_kept("ep", {}, {})
    check_async_kept("ep", None, {})
    with pytest.raises(ValidationError, match="cannot be removed from this endpoint ep"):
        check_async_kept("ep", spec, {})
