"""``moorage serve --workers 2``: router processes serve invocations on the port.

One server with two router processes. Invocations of plain endpoints and of
inference components are answered by the routers even while the server
process is stopped (SIGSTOP); every other request reaches the server process
through them and is answered as on a single-process server; metrics of what
the routers answered reach CloudWatch; an update under load fails no request
(the routers drain retired copies); a killed router is replaced.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import create_model, deploy, variant, wait_in_service
from support.names import unique
from support.processes import alive
from support.server import MoorageServer, running
from support.traffic import Traffic

WORKER_MODULE = b"moorage.routers.worker"


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    with running(tmp_path_factory.mktemp("workers"), extra_args=("--workers", "2")) as server:
        yield server


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return toolbox_archive(tmp_path_factory.mktemp("toolbox") / "model.tar.gz", "v1").as_uri()


def _routers(server: MoorageServer) -> list[int]:
    """Pids of the server's router processes."""
    found = []
    control = str(server.data_dir).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if WORKER_MODULE in cmdline and control in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def _invoke(runtime: Any, endpoint: str, **extra: Any) -> Any:
    reply = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=b'{"op": "echo"}', **extra
    )
    return json.loads(reply["Body"].read())


def _invocations_counted(server: MoorageServer, endpoint: str, *, at_least: float) -> float:
    """The endpoint's ``Invocations`` sum, read until it reaches ``at_least`` (or 15 s pass)."""
    cloudwatch = server.client("cloudwatch")
    deadline = time.monotonic() + 15
    while True:
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            StartTime=time.time() - 600,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Sum"],
        )
        total: float = sum(p["Sum"] for p in stats["Datapoints"])
        if total >= at_least or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


def _server_paused(server: MoorageServer) -> Any:
    assert server.proc is not None
    pid = server.proc.pid

    class Paused:
        def __enter__(self) -> None:
            os.kill(pid, signal.SIGSTOP)

        def __exit__(self, *_: object) -> None:
            os.kill(pid, signal.SIGCONT)

    return Paused()


def test_routers_answer_invocations_without_the_server_process(
    routed: MoorageServer, model_url: str
) -> None:
    sm = routed.sagemaker
    runtime = routed.client("sagemaker-runtime")
    name = unique("routed")
    deploy(sm, name, model_url)
    assert len(_routers(routed)) == 2
    # The routers learn of the endpoint from the server process within moments.
    deadline = time.monotonic() + 10
    while _invoke(runtime, name)["tag"] != "v1" and time.monotonic() < deadline:
        time.sleep(0.1)
    with _server_paused(routed):
        answers = [_invoke(runtime, name) for _ in range(20)]
        streamed = runtime.invoke_endpoint_with_response_stream(
            EndpointName=name, ContentType="application/json", Body=b'{"op": "stream", "n": 3}'
        )
        parts = b"".join(e["PayloadPart"]["Bytes"] for e in streamed["Body"] if "PayloadPart" in e)
    assert {a["tag"] for a in answers} == {"v1"}
    assert parts == b"chunk-0;chunk-1;chunk-2;"

    # What the routers answered is counted in CloudWatch by the server process.
    assert _invocations_counted(routed, name, at_least=22) >= 22


def test_requests_the_routers_do_not_serve_reach_the_server_process(
    routed: MoorageServer, model_url: str
) -> None:
    sm = routed.sagemaker
    runtime = routed.client("sagemaker-runtime")
    # Control-plane errors keep their codes and messages through the routers.
    with pytest.raises(ClientError) as caught:
        sm.describe_endpoint(EndpointName="no-such-endpoint")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert 'Could not find endpoint "arn:aws:sagemaker' in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, "no-such-endpoint")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint no-such-endpoint of account 123456789012 not found" in str(caught.value)
    # Unsigned requests are refused, by a router (invocations) or by the server (the rest).
    unsigned = requests.post(f"{routed.url}/endpoints/x/invocations", data=b"{}", timeout=10)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    listing = requests.post(
        f"{routed.url}/",
        data=b"{}",
        headers={
            "X-Amz-Target": "SageMaker.ListEndpoints",
            "Content-Type": "application/x-amz-json-1.1",
        },
        timeout=10,
    )
    assert listing.status_code == 403
    # The dashboard's login page, from the server process.
    page = requests.get(f"{routed.url}/", timeout=10)
    assert page.status_code == 200 and "<form" in page.text
    # An endpoint with data capture is served by the server process.
    name = unique("captured")
    create_model(sm, name, model_url)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("AllTraffic", name)],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": (routed.data_dir.parent / "capture").as_uri(),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)
    assert _invoke(runtime, name)["tag"] == "v1"


def test_inference_components_through_routers(routed: MoorageServer, model_url: str) -> None:
    sm = routed.sagemaker
    runtime = routed.client("sagemaker-runtime")
    endpoint = unique("routed-ic")
    model = unique("routed-ic-model")
    create_model(sm, model, model_url)
    component_endpoint(sm, endpoint)
    component = unique("routed-comp")
    create_component(sm, component, endpoint, model=model, copies=1)
    wait_component(sm, component)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            _invoke(runtime, endpoint, InferenceComponentName=component)
            break
        except ClientError:
            time.sleep(0.1)
    with _server_paused(routed):
        answers = [_invoke(runtime, endpoint, InferenceComponentName=component) for _ in range(10)]
    assert {a["tag"] for a in answers} == {"v1"}


def test_update_under_traffic_through_routers_fails_no_request(
    routed: MoorageServer, tmp_path: Path
) -> None:
    sm = routed.sagemaker
    runtime = routed.client("sagemaker-runtime")
    name = unique("routed-update")
    create_model(sm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(sm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[variant("AllTraffic", f"{name}-v1", count=2)],
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c2",
        ProductionVariants=[variant("AllTraffic", f"{name}-v2", count=2)],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(sm, name)
    # Requests long enough that a copy stopped before the routers drain it fails some.
    with Traffic(runtime, name, seconds=0.3) as traffic:
        time.sleep(0.5)
        before = time.monotonic()
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=f"{name}-c2",
            DeploymentConfig={
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 1,
                }
            },
        )
        time.sleep(0.5)
        deadline = time.monotonic() + 90
        while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        after = time.monotonic()
        time.sleep(1.0)
    assert traffic.failures == []
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    assert traffic.tags_between(0, before) == {"v1"}
    assert traffic.tags_between(after, float("inf")) == {"v2"}
    assert len(traffic.answers) > 40


def test_a_killed_router_is_replaced(routed: MoorageServer, model_url: str) -> None:
    sm = routed.sagemaker
    name = unique("routed-kill")
    deploy(sm, name, model_url)
    before = _routers(routed)
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _routers(routed)
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"no router replaced {before[0]}: {_routers(routed)}")
    # New connections (a fresh client) are answered by the routers left and the new one.
    runtime = routed.client("sagemaker-runtime")
    assert {_invoke(runtime, name)["tag"] for _ in range(20)} == {"v1"}


def test_access_lines_of_routers_and_stopping_the_server_stops_them(
    tmp_path: Path, model_url: str
) -> None:
    extra = ("--workers", "1", "--access-log")
    with running(tmp_path / "data", extra_args=extra) as server:
        pids = _routers(server)
        assert len(pids) == 1
        name = unique("logged")
        deploy(server.sagemaker, name, model_url)
        runtime = server.client("sagemaker-runtime")
        assert _invoke(runtime, name)["tag"] == "v1"
        # The router's access line reaches the console; its reports still reach
        # the server (the invocation is counted).
        line = f'"POST /endpoints/{name}/invocations HTTP/1.1" 200'
        deadline = time.monotonic() + 10
        while not any(line in out for out in server.output):
            assert time.monotonic() < deadline, server.output
            time.sleep(0.05)
        assert _invocations_counted(server, name, at_least=1) >= 1
        socket_path = tmp_path / "data" / "run" / "server.sock"
        assert socket_path.is_socket() and socket_path.stat().st_mode & 0o777 == 0o600
        assert server.stop() == 0
        assert not socket_path.exists()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
