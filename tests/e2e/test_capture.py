"""Data capture end to end: real server, real model copies, boto3, files and moto's S3.

One server of the module's own, with a flush interval far longer than the
run, serves five endpoints of the *mirror* model with different
DataCaptureConfigs. The traffic is sent, the test checks that nothing has
been written yet (pairs wait in memory), stops the server with SIGTERM and
reads what it wrote: every answered request at 100 % must be there, exactly
as it was sent and answered, because a clean stop writes everything queued.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from moorage.capture import CaptureRecord, capture_files, read_capture
from support.capture import KMS_KEY, data_capture_config, mirror_archive
from support.endpoints import create_model, variant, wait_in_service
from support.moto_s3 import MotoS3
from support.server import MoorageServer

JSON = "application/json"
TEXT_TYPES = {"csv": ("text/csv",), "json": (JSON,)}
HALF_REQUESTS = 200
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Sent:
    """One answered request, as the caller saw it."""

    kind: str  # json, csv, binary, stream
    body: bytes
    content_type: str
    answer: bytes
    answer_type: str
    inference_id: str | None


@dataclass
class Run:
    destinations: dict[str, str] = field(default_factory=dict)
    sent: dict[str, list[Sent]] = field(default_factory=dict)
    records: dict[str, list[CaptureRecord]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    files_before_stop: list[str] = field(default_factory=list)
    exit_code: int | None = None
    output: str = ""
    started: float = 0.0
    finished: float = 0.0
    s3: Any = None
    bucket: str = ""


def _invoke(
    runtime: Any, name: str, kind: str, body: bytes, content_type: str, iid: str | None
) -> Sent:
    extra = {"InferenceId": iid} if iid else {}
    if kind == "stream":
        answer = runtime.invoke_endpoint_with_response_stream(
            EndpointName=name, ContentType=content_type, Body=body, **extra
        )
        data = b"".join(e["PayloadPart"]["Bytes"] for e in answer["Body"] if "PayloadPart" in e)
        return Sent(kind, body, content_type, data, answer["ContentType"], iid)
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType=content_type, Body=body, **extra
    )
    return Sent(kind, body, content_type, answer["Body"].read(), answer["ContentType"], iid)


def _mixed_traffic(runtime: Any, name: str, rounds: int) -> list[Sent]:
    sent = []
    for i in range(rounds):
        doc = json.dumps({"i": i, "text": "héllo"}).encode()
        sent.append(_invoke(runtime, name, "json", doc, "application/json", f"{name}-json-{i}"))
        row = f"{i},5.1,3.5".encode()
        sent.append(_invoke(runtime, name, "csv", row, "text/csv", f"{name}-csv-{i}"))
        raw = bytes([i, 0xFF, 0x00, 0x80, 0xC3])  # not UTF-8
        iid = f"{name}-bin-{i}" if i % 2 else None
        sent.append(_invoke(runtime, name, "binary", raw, "application/x-custom", iid))
        if i % 4 == 0:
            ask = json.dumps({"stream": 3 + i}).encode()
            sent.append(_invoke(runtime, name, "stream", ask, "application/json", None))
            # A stream that breaks midway has no answer to record: not captured.
            with pytest.raises(EventStreamError) as broken:
                _invoke(runtime, name, "stream", b'{"stream": 2, "break": true}', JSON, None)
            assert broken.value.response["Error"]["Code"] == "ModelStreamError"
        with pytest.raises(ClientError) as failed:
            # Not answered, so not captured.
            runtime.invoke_endpoint(
                EndpointName=name, ContentType="application/json", Body='{"fail": 1}'
            )
        assert failed.value.response["Error"]["Code"] == "ModelError"
    return sent


def _json_traffic(runtime: Any, name: str, count: int) -> list[Sent]:
    return [
        _invoke(runtime, name, "json", json.dumps([n]).encode(), "application/json", f"{name}-{n}")
        for n in range(count)
    ]


def _local_files(run: Run) -> list[str]:
    found = []
    for uri in run.destinations.values():
        path = Path(uri.removeprefix("file://"))
        if uri.startswith("file://") and path.exists():
            found += [str(p) for p in path.rglob("*") if p.is_file()]
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("capture")
    bucket = moto_s3.new_bucket("capture")
    result = Run(s3=moto_s3.client, bucket=bucket)
    result.destinations = {
        "full": (tmp / "full").as_uri(),
        "s3": f"s3://{bucket}/captured/",
        "zero": (tmp / "zero").as_uri(),
        "input": (tmp / "input").as_uri(),
        "half": (tmp / "half").as_uri(),
    }
    captures = {
        "full": data_capture_config(result.destinations["full"], **TEXT_TYPES),
        # Several options add up; only JSON is text here, so CSV is base64.
        "s3": data_capture_config(
            result.destinations["s3"],
            modes=("Input", "Output"),
            json=TEXT_TYPES["json"],
            KmsKeyId=KMS_KEY,
        ),
        "zero": data_capture_config(result.destinations["zero"], percentage=0),
        "input": data_capture_config(result.destinations["input"], modes=("Input",), **TEXT_TYPES),
        "half": data_capture_config(result.destinations["half"], percentage=50, **TEXT_TYPES),
    }
    server = MoorageServer(
        tmp / "data", env=moto_s3.env(), extra_args=("--capture-flush-interval", "120")
    ).start()
    try:
        sm, runtime = server.sagemaker, server.client("sagemaker-runtime")
        create_model(sm, "mirror", mirror_archive(tmp / "mirror.tar.gz").as_uri())
        for name, capture in captures.items():
            sm.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[variant("AllTraffic", "mirror")],
                DataCaptureConfig=capture,
            )
            sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        for name in captures:
            wait_in_service(sm, name)
        result.started = time.time()
        result.sent["full"] = _mixed_traffic(runtime, "full", 8)
        result.sent["s3"] = _mixed_traffic(runtime, "s3", 4)
        result.sent["zero"] = _json_traffic(runtime, "zero", 20)
        result.sent["input"] = _mixed_traffic(runtime, "input", 4)
        result.sent["half"] = _json_traffic(runtime, "half", HALF_REQUESTS)
        result.finished = time.time()
        result.files_before_stop = _local_files(result) + [
            o["Key"] for o in moto_s3.client.list_objects_v2(Bucket=bucket).get("Contents", [])
        ]
    finally:
        result.exit_code = server.stop()
        result.output = "".join(server.output)
    for name, uri in result.destinations.items():
        if uri.startswith("s3://") or Path(uri.removeprefix("file://")).exists():
            result.files[name] = capture_files(uri, s3_client_factory=lambda: moto_s3.client)
            result.records[name] = list(read_capture(uri, s3_client_factory=lambda: moto_s3.client))
        else:
            result.files[name], result.records[name] = [], []
    yield result


def _check_side(side: Any, mode: str, body: bytes, content_type: str, encoding: str) -> None:
    assert side is not None
    assert side.mode == mode
    assert side.observed_content_type == content_type
    assert side.encoding == encoding
    assert side.body == body
    if encoding == "BASE64":
        assert side.data == base64.b64encode(body).decode()
    else:
        assert side.data == body.decode()


# Encoding of each kind of request and answer, by the endpoint's content-type lists.
_ENCODINGS = {
    "full": {
        "json": ("JSON", "JSON"),
        "csv": ("CSV", "CSV"),
        "binary": ("BASE64", "BASE64"),
        "stream": ("JSON", "BASE64"),  # the stream is typed text/plain
    },
    "s3": {
        "json": ("JSON", "JSON"),
        "csv": ("BASE64", "BASE64"),
        "binary": ("BASE64", "BASE64"),
        "stream": ("JSON", "BASE64"),
    },
}


def _check_pairs(run: Run, name: str, *, output: bool = True) -> None:
    sent, records = run.sent[name], run.records[name]
    assert len(records) == len(sent), (name, len(records), len(sent))
    encodings = _ENCODINGS.get(name, _ENCODINGS["full"])
    for record, request in zip(records, sent, strict=True):
        inputs, outputs = encodings[request.kind]
        _check_side(record.endpoint_input, "INPUT", request.body, request.content_type, inputs)
        if output:
            _check_side(
                record.endpoint_output, "OUTPUT", request.answer, request.answer_type, outputs
            )
        else:
            assert record.endpoint_output is None
        assert record.inference_id == request.inference_id
        assert record.event_version == "0"
        assert int(run.started) <= record.time <= run.finished
    assert len({r.event_id for r in records}) == len(records)


def test_pairs_wait_in_memory_and_a_clean_stop_writes_them_all(run: Run) -> None:
    assert run.files_before_stop == []
    assert run.exit_code == 0, run.output
    assert "Traceback" not in run.output
    assert "data capture" not in run.output  # no failed, dropped or unwritten records


def test_every_answered_request_is_captured_exactly(run: Run) -> None:
    assert len(run.sent["full"]) == 26
    _check_pairs(run, "full")
    kinds = {r.kind for r in run.sent["full"]}
    assert kinds == {"json", "csv", "binary", "stream"}
    stream = next(s for s in run.sent["full"] if s.kind == "stream")
    assert stream.answer == b"mirror:0;mirror:1;mirror:2;"


def test_files_are_laid_out_by_endpoint_variant_and_hour(run: Run) -> None:
    root = run.destinations["full"].removeprefix("file://")
    pattern = re.compile(
        rf"file://{re.escape(root)}/full/AllTraffic/(\d{{4}}/\d\d/\d\d/\d\d)/"
        rf"\d\d-\d\d-\d{{3}}-{_UUID}\.jsonl"
    )
    assert run.files["full"]
    for uri in run.files["full"]:
        hour = pattern.fullmatch(uri)
        assert hour is not None, uri
        in_file = [r for r in run.records["full"] if r.source.startswith(uri + ":")]
        assert in_file
        for record in in_file:
            assert record.inference_time.replace("-", "/").replace("T", "/")[:13] == hour[1]
    # One flush, one hour (or two, across an hour boundary): the records are in sending order.
    assert len(run.files["full"]) <= 2


def test_s3_destination_with_kms_key(run: Run) -> None:
    _check_pairs(run, "s3")
    assert run.files["s3"]
    for uri in run.files["s3"]:
        key = uri.removeprefix(f"s3://{run.bucket}/")
        assert re.fullmatch(r"captured/s3/AllTraffic/\d{4}/\d\d/\d\d/\d\d/.+\.jsonl", key)
        head = run.s3.head_object(Bucket=run.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == KMS_KEY


def test_zero_percent_captures_nothing(run: Run) -> None:
    assert len(run.sent["zero"]) == 20
    assert run.files["zero"] == []
    assert run.records["zero"] == []


def test_input_only_leaves_the_output_out(run: Run) -> None:
    _check_pairs(run, "input", output=False)


def test_sampling_is_decided_per_request(run: Run) -> None:
    records = run.records["half"]
    # Binomial(200, 0.5): five standard deviations either side of 100.
    assert abs(len(records) - HALF_REQUESTS / 2) <= 5 * math.sqrt(HALF_REQUESTS / 4), len(records)
    by_id = {s.inference_id: s for s in run.sent["half"]}
    for record in records:
        request = by_id[record.inference_id]
        assert record.endpoint_input is not None and record.endpoint_output is not None
        assert record.endpoint_input.body == request.body
        assert record.endpoint_output.body == request.answer
    ids = [r.inference_id for r in records]
    assert len(set(ids)) == len(ids)
    # In sending order.
    assert ids == [s.inference_id for s in run.sent["half"] if s.inference_id in set(ids)]
