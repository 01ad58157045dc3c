"""A property-based fuzz of the CloudWatch Logs operations over a real copy's log.

Inputs are drawn from botocore's ``logs`` input shapes (:mod:`support.fuzz`)
and sent through a boto3 client with client-side validation off; half of
them are pointed at the group and stream of a real endpoint, with tokens and
filter patterns that look almost right, so that the reading code (and not
only the validator) meets them. Every answer must be AWS-shaped and never a
5xx; the server must stay healthy and log no traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorage.api.service_models import LOGS, service_model
from support.archives import toolbox_archive
from support.endpoints import deploy
from support.fuzz import check_reply, params_for
from support.raw import request
from support.server import MoorageServer, running

OPERATIONS = ("DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents")
NAME = "fuzzed-logs"
GROUP = f"/aws/sagemaker/Endpoints/{NAME}"

_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MoorageServer, str]]:
    """A server of its own with one endpoint that has logged a few lines; and its stream."""
    work = tmp_path_factory.mktemp("logs-fuzz")
    archive = toolbox_archive(Path(work) / "model.tar.gz")
    with running(work / "data") as srv:
        deploy(srv.sagemaker, NAME, archive.as_uri())
        runtime = srv.client("sagemaker-runtime")
        for i in range(3):
            runtime.invoke_endpoint(
                EndpointName=NAME, ContentType="application/json", Body=json.dumps({"i": i})
            )
        logs = srv.client("logs")
        deadline = time.monotonic() + 30
        while True:
            streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
            if streams:
                break
            assert time.monotonic() < deadline, "the endpoint has no log stream"
            time.sleep(0.2)
        yield srv, streams[0]["logStreamName"]
        assert "Traceback" not in "".join(srv.output)


def _tokens() -> st.SearchStrategy[str]:
    digits = st.integers(min_value=0, max_value=10**9).map(lambda n: f"{n:056d}")
    return st.one_of(
        st.builds(lambda d, n: f"{d}/{n}", st.sampled_from("fbx"), digits),
        st.text(alphabet="abcdefABCDEF0123456789-_=", min_size=1, max_size=40).map(
            lambda t: "m1." + t
        ),
        st.text(min_size=1, max_size=30),
    )


def _patterns() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(
        ['"', "?", "-", "{", "[", "%", " ", "\\", "listening", "on", '" "', "é", "\n"]
    )
    return st.lists(pieces, max_size=8).map("".join)


def _plausible(operation: str, stream: str) -> st.SearchStrategy[dict[str, Any]]:
    """Requests that pass validation and reach the files: real names, odd values."""
    times = st.integers(min_value=0, max_value=2**45)
    common: dict[str, st.SearchStrategy[Any]] = {"nextToken": _tokens()}
    prefixes = st.sampled_from(["A", "AllTraffic/", stream[:12], stream, "x"])
    optional: dict[str, st.SearchStrategy[Any]]
    if operation == "DescribeLogGroups":
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional = {
            "logGroupNamePrefix": st.sampled_from(["/aws", GROUP, "/aws/sagemaker/Endpoints/f"]),
            "logGroupNamePattern": st.sampled_from(["", "fuzz", "Endpoints", "sagemaker"]),
            "limit": st.integers(1, 50),
        }
    elif operation == "DescribeLogStreams":
        required = {"logGroupName": st.just(GROUP)}
        optional = {
            "logStreamNamePrefix": prefixes,
            "orderBy": st.sampled_from(["LogStreamName", "LastEventTime"]),
            "descending": st.booleans(),
            "limit": st.integers(1, 50),
        }
    elif operation == "GetLogEvents":
        required = {"logGroupName": st.just(GROUP), "logStreamName": st.just(stream)}
        optional = {
            "startTime": times,
            "endTime": times,
            "limit": st.integers(1, 10_000),
            "startFromHead": st.booleans(),
        }
    else:
        required = {"logGroupName": st.just(GROUP)}
        optional = {
            "logStreamNames": st.lists(st.sampled_from([stream, "AllTraffic/x"]), min_size=1),
            "logStreamNamePrefix": prefixes,
            "startTime": times,
            "endTime": times,
            "filterPattern": _patterns(),
            "limit": st.integers(1, 10_000),
            "startFromHead": st.booleans(),
            "interleaved": st.booleans(),
        }
    return st.fixed_dictionaries(required, optional={**common, **optional})


def _strategy(operation: str, stream: str) -> st.SearchStrategy[dict[str, Any]]:
    base = params_for(service_model(LOGS).operation_model(operation))
    return st.one_of(base, _plausible(operation, stream))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_logs_operation(logged: tuple[MoorageServer, str], operation: str) -> None:
    server, stream = logged
    client = server.client(LOGS, parameter_validation=False, read_timeout=120)
    answers: list[Any] = []
    client.meta.events.register(
        "response-received.*", lambda response_dict, **_: answers.append(response_dict)
    )
    method = getattr(client, xform_name(operation))
    sent = succeeded = 0

    @settings(max_examples=60, **_SETTINGS)
    @given(_strategy(operation, stream))
    def run(params: dict[str, Any]) -> None:
        nonlocal sent, succeeded
        answers.clear()
        try:
            method(**params)
        except Exception:
            if not answers:
                return  # botocore refused to serialize it: nothing was sent
        assert answers, f"{operation}: no answer"
        answer = answers[-1]
        assert answer is not None, f"{operation} {params!r:.300}: no answer from the server"
        sent += 1
        succeeded += answer["status_code"] == 200
        check_reply(answer["status_code"], dict(answer["headers"]), answer["body"], operation)

    run()
    assert sent >= 20, f"{operation}: only {sent} calls were sent"
    # Some calls must get past validation to the files, or the fuzz tests only the validator.
    assert succeeded >= 3, f"{operation}: only {succeeded} of {sent} calls succeeded"
    assert request(server.url, "GET", "/healthz").status == 200
