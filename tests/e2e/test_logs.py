"""CloudWatch Logs over real model servers' output, and ``moorage logs``.

The model prints one known line per request to stdout and one to stderr;
the Logs API must serve them as the copy's events, in order, with tokens
and filters as CloudWatch defines them.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import write_archive
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import (
    create_endpoint,
    create_model,
    delete,
    deploy,
    variant,
    wait_status,
)
from support.names import unique
from support.server import MoorageServer, running

BIN = Path(sys.executable).parent
INSTANCE_STREAM = re.compile(r"AllTraffic/i-[0-9a-f]{17}")
LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) (.*)")

LOGGING_MODEL = {
    "code/inference.py": """
        import json
        import sys


        def model_fn(model_dir):
            print("logging model loaded")
            return {}


        def input_fn(data, content_type):
            return json.loads(data)


        def predict_fn(data, model):
            print(f"handled request {data['id']}")
            print(f"stderr note {data['id']}", file=sys.stderr)
            return data


        def output_fn(prediction, accept):
            return json.dumps(prediction), "application/json"
    """
}


@pytest.fixture(scope="session")
def logging_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("logging-model") / "model.tar.gz"
    return write_archive(path, LOGGING_MODEL).as_uri()


@pytest.fixture
def logs(serving: MoorageServer) -> Any:
    return serving.client("logs")


def invoke(runtime: Any, endpoint: str, request_id: str, **extra: Any) -> None:
    runtime.invoke_endpoint(
        EndpointName=endpoint,
        ContentType="application/json",
        Body=json.dumps({"id": request_id}),
        **extra,
    )
    # Distinct milliseconds per request, so time ranges can split them.
    time.sleep(0.01)


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def moorage_logs(serving: MoorageServer, *args: str) -> list[tuple[str, str]]:
    """``moorage logs ARGS`` against the server: its (stream, message) lines."""
    done = subprocess.run(
        [
            str(BIN / "moorage"),
            "logs",
            *args,
            "--url",
            serving.url,
            "--data-dir",
            str(serving.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    return [(m[1], m[2]) for m in parsed if m]


def follow_until_ctrl_c(serving: MoorageServer, runtime: Any, name: str) -> None:
    """``moorage logs --follow`` prints what arrives, each line once, and stops on Ctrl-C."""
    command = [str(BIN / "moorage"), "logs", name, "--follow", "--since", "10m"]
    command += ["--url", serving.url, "--data-dir", str(serving.data_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while "handled request r4" not in "".join(lines):
            line = proc.stdout.readline()
            assert line, f"moorage logs --follow ended: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
        invoke(runtime, name, "r5")
        while "stderr note r5" not in "".join(lines):
            line = proc.stdout.readline()
            assert line, "moorage logs --follow ended"
            lines.append(line)
        # A few more polls find nothing new, and repeat nothing.
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    printed = [LINE.fullmatch(line.rstrip("\n")) for line in [*lines, *rest.splitlines()]]
    assert all(printed)
    handled = [m[2] for m in printed if m and m[2].startswith("handled request")]
    assert handled == [f"handled request r{i}" for i in (1, 2, 3, 4, 5)]


def test_an_endpoint_copy_serves_its_output_as_cloudwatch_logs(
    serving: MoorageServer, esm: Any, runtime: Any, logs: Any, logging_url: str
) -> None:
    name = unique("logged")
    group = f"/aws/sagemaker/Endpoints/{name}"
    deploy(esm, name, logging_url)
    for request_id in ("r1", "r2", "r3"):
        invoke(runtime, name, request_id)

    def three_handled() -> list[dict[str, Any]]:
        found = logs.filter_log_events(logGroupName=group, filterPattern='"handled request"')
        assert len(found["events"]) == 3, found["events"]
        return list(found["events"])

    handled = eventually(three_handled)
    assert [e["message"] for e in handled] == [f"handled request r{i}" for i in (1, 2, 3)]

    # The group and its one stream, named as SageMaker names them.
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert groups[0]["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    assert groups[0]["logGroupArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    assert groups[0]["storedBytes"] > 0
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    stream = streams[0]["logStreamName"]
    assert INSTANCE_STREAM.fullmatch(stream), stream
    assert streams[0]["firstEventTimestamp"] <= streams[0]["lastEventTimestamp"]
    by_time = logs.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True
    )["logStreams"]
    assert [s["logStreamName"] for s in by_time] == [stream]
    assert {e["logStreamName"] for e in handled} == {stream}

    # Every line, stdout and stderr in the order the model wrote them.
    head = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    messages = [e["message"] for e in head["events"]]
    assert "logging model loaded" in messages
    assert any("listening on" in m for m in messages)
    requests = [m for m in messages if "request" in m or "note" in m]
    assert requests == [
        line for i in (1, 2, 3) for line in (f"handled request r{i}", f"stderr note r{i}")
    ]
    stamps = [e["timestamp"] for e in head["events"]]
    assert stamps == sorted(stamps)
    now_ms = time.time() * 1000
    assert now_ms - 600_000 < stamps[0] <= stamps[-1] <= now_ms + 1000

    # Forward: nothing new gives the same token back; new output then arrives there.
    forward = head["nextForwardToken"]
    again = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=forward)
    assert again["events"] == [] and again["nextForwardToken"] == forward
    invoke(runtime, name, "r4")

    def r4_arrives() -> None:
        later = logs.get_log_events(
            logGroupName=group, logStreamName=stream, nextToken=forward, startFromHead=True
        )
        assert [e["message"] for e in later["events"]] == ["handled request r4", "stderr note r4"]

    eventually(r4_arrives)

    # Backward from the end, two at a time, down to the start (same token back there).
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2)
    assert [e["message"] for e in page["events"]] == ["handled request r4", "stderr note r4"]
    collected = [e["message"] for e in page["events"]]
    token = page["nextBackwardToken"]
    for _ in range(100):
        page = logs.get_log_events(
            logGroupName=group, logStreamName=stream, limit=2, nextToken=token
        )
        if page["nextBackwardToken"] == token:
            assert page["events"] == []
            break
        collected = [e["message"] for e in page["events"]] + collected
        token = page["nextBackwardToken"]
    assert collected == [*messages, "handled request r4", "stderr note r4"]

    # Time ranges: GetLogEvents' end is exclusive, FilterLogEvents' inclusive.
    r2 = handled[1]["timestamp"]
    r3 = handled[2]["timestamp"]
    ranged = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startTime=r2, endTime=r3, startFromHead=True
    )
    assert [e["message"] for e in ranged["events"]] == ["handled request r2", "stderr note r2"]
    filtered = logs.filter_log_events(
        logGroupName=group, startTime=r2, endTime=r3, filterPattern="?r2 ?r3 -stderr"
    )
    assert [e["message"] for e in filtered["events"]] == [
        "handled request r2",
        "handled request r3",
    ]
    assert (
        logs.filter_log_events(
            logGroupName=group, logStreamNames=[stream], filterPattern="r1 stderr"
        )["events"][0]["message"]
        == "stderr note r1"
    )
    assert logs.filter_log_events(logGroupName=group, logStreamNamePrefix="Other/")["events"] == []

    # Paging one event at a time gives the same events.
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern="handled", PaginationConfig={"PageSize": 1}
    )
    paged = [e["message"] for p in pages for e in p["events"]]
    assert paged == [f"handled request r{i}" for i in (1, 2, 3, 4)]

    # Unknown names, as CloudWatch answers them.
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/i-00000000000000000")
    assert caught.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "The specified log stream does not exist.",
    }
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName=group + "x", logStreamName=stream)
    assert caught.value.response["Error"]["Message"] == "The specified log group does not exist."

    # The command line prints the same lines.
    printed = moorage_logs(serving, name, "--since", "10m")
    assert {s for s, _ in printed} == {stream}
    assert [m for _, m in printed if "request" in m] == [
        f"handled request r{i}" for i in (1, 2, 3, 4)
    ]
    assert moorage_logs(serving, name, "--since", "10m", "--variant", "Other") == []
    follow_until_ctrl_c(serving, runtime, name)
    delete(esm, name)
    # A deleted endpoint keeps its logs, as CloudWatch keeps its log group.
    assert logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"] == (
        stream
    )


def test_component_copies_log_to_the_component_group(
    serving: MoorageServer, esm: Any, runtime: Any, logs: Any, logging_url: str
) -> None:
    endpoint = unique("logged-ic-ep")
    component = unique("logged-ic")
    create_model(esm, component, logging_url)
    component_endpoint(esm, endpoint)
    create_component(esm, component, endpoint, model=component, copies=1)
    wait_component(esm, component, timeout=120)
    invoke(runtime, endpoint, "c1", InferenceComponentName=component)
    group = f"/aws/sagemaker/InferenceComponents/{component}"

    def handled() -> list[dict[str, Any]]:
        found = logs.filter_log_events(logGroupName=group, filterPattern="handled")["events"]
        assert [e["message"] for e in found] == ["handled request c1"]
        return list(found)

    (event,) = eventually(handled)
    stream = event["logStreamName"]
    assert re.fullmatch(rf"AllTraffic/i-[0-9a-f]{{17}}/{component}-1", stream), stream
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]
    printed = moorage_logs(serving, endpoint, "--component", component, "--since", "10m")
    assert (stream, "handled request c1") in printed
    esm.delete_inference_component(InferenceComponentName=component)
    delete(esm, endpoint)


# A mapped image whose command prints why it cannot start, then exits.
FAILING_SERVER = """
import sys
print("reading the configuration")
print("broken configuration: no key 'threshold'", file=sys.stderr)
sys.exit(3)
"""


def test_a_copy_that_exits_at_start_says_why_and_keeps_its_output(tmp_path: Path) -> None:
    script = tmp_path / "failing_server.py"
    script.write_text(FAILING_SERVER)
    image_map = tmp_path / "images.json"
    image_map.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "match": "*/failing:*",
                        "name": "failing-local",
                        "command": ["{python}", str(script)],
                    }
                ]
            }
        )
    )
    archive = write_archive(tmp_path / "model.tar.gz", {"data.txt": "x"})
    with running(tmp_path / "data", extra_args=("--image-map", str(image_map))) as srv:
        sm: Any = srv.sagemaker
        create_model(
            sm,
            "failing",
            archive.as_uri(),
            Image="123456789012.dkr.ecr.us-east-1.amazonaws.com/failing:1",
        )
        create_endpoint(sm, "failing", [variant("AllTraffic", "failing")])
        reason = wait_status(sm, "failing", "Failed", timeout=120)["FailureReason"]
        assert "exited with status 3" in reason
        assert "broken configuration: no key 'threshold'" in reason
        logs = srv.client("logs")
        found = logs.filter_log_events(
            logGroupName="/aws/sagemaker/Endpoints/failing", filterPattern="configuration"
        )["events"]
        messages = [e["message"] for e in found]
        assert messages[:2] == [
            "reading the configuration",
            "broken configuration: no key 'threshold'",
        ]
