"""Copies that fail while serving: a broken answer is never retried; a hung copy is replaced.

Real model servers whose scripts misbehave on purpose. Each model notes
every request it runs in a file named by its ``RUNS_FILE`` environment
variable, shared by all its copies, so a test can tell how often the model
really ran.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from support.archives import write_archive
from support.endpoints import delete, deploy
from support.names import unique
from support.processes import wait_dead
from support.server import MoorageServer

# Answers the first part of every answer, then kills its own process: the
# router has sent the request and read part of the answer when the copy dies.
BREAKS_MIDWAY = {
    "code/inference.py": """
        import os
        import signal


        def model_fn(model_dir):
            return None


        def predict_fn(data, model):
            with open(os.environ["RUNS_FILE"], "a") as handle:
                handle.write("run\\n")
            return data


        def output_fn(prediction, accept):
            def chunks():
                yield "the first part of the answer;"
                os.kill(os.getpid(), signal.SIGKILL)
                yield "never sent"

            return chunks()
    """
}

# {"name": ..., "hang": true} never returns; anything else answers its process id.
HANGS_ON_REQUEST = {
    "code/inference.py": """
        import os
        import time


        def model_fn(model_dir):
            return None


        def predict_fn(data, model):
            with open(os.environ["RUNS_FILE"], "a") as handle:
                handle.write(data["name"] + "\\n")
            if data.get("hang"):
                while True:
                    time.sleep(60)
            return {"pid": os.getpid()}
    """
}


def _runs(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _sum(cw: Any, name: str, metric: str, since: dt.datetime) -> float:
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_an_answer_broken_midway_is_a_model_error_and_the_model_ran_once(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("broken")
    runs = tmp_path / "runs.txt"
    url = write_archive(tmp_path / "model.tar.gz", BREAKS_MIDWAY).as_uri()
    since = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    # Two copies: a retry would have had somewhere to go.
    deploy(esm, name, url, count=2, Environment={"RUNS_FILE": str(runs)})
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body="{}")
    response = caught.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 0
    assert "no complete answer" in response["OriginalMessage"]
    assert "Received server error (0) from AllTraffic" in response["Error"]["Message"]
    assert f"/aws/sagemaker/Endpoints/{name}" in response["LogStreamArn"]
    assert _runs(runs) == ["run"]
    cw = serving.client("cloudwatch")
    assert _sum(cw, name, "Invocations", since) == 1.0
    assert _sum(cw, name, "Invocation4XXErrors", since) == 1.0
    assert _runs(runs) == ["run"]
    delete(esm, name)


def test_a_stream_broken_midway_ends_with_a_model_stream_error_and_is_not_retried(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("brokenstream")
    runs = tmp_path / "runs.txt"
    url = write_archive(tmp_path / "model.tar.gz", BREAKS_MIDWAY).as_uri()
    deploy(esm, name, url, count=2, Environment={"RUNS_FILE": str(runs)})
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, ContentType="application/json", Body="{}"
    )
    received = []
    with pytest.raises(EventStreamError) as caught:
        for event in answer["Body"]:
            received.append(event["PayloadPart"]["Bytes"])
    assert b"".join(received) == b"the first part of the answer;"
    assert caught.value.response["Error"]["Code"] == "ModelStreamError"
    assert "ended unexpectedly" in caught.value.response["Error"]["Message"]
    assert _runs(runs) == ["run"]
    delete(esm, name)


def test_a_copy_whose_workers_hang_is_replaced_and_the_endpoint_recovers(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("hung")
    runs = tmp_path / "runs.txt"
    url = write_archive(tmp_path / "model.tar.gz", HANGS_ON_REQUEST).as_uri()
    environment = {
        "RUNS_FILE": str(runs),
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "2",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    }
    deploy(esm, name, url, Environment=environment)

    def invoke(body: dict[str, Any]) -> dict[str, Any]:
        answer = runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=json.dumps(body)
        )
        result: dict[str, Any] = json.loads(answer["Body"].read())
        return result

    first = invoke({"name": "first"})["pid"]
    hung: list[dict[str, Any]] = []

    def hang() -> None:
        try:
            invoke({"name": "hang", "hang": True})
        except ClientError as exc:
            hung.append(exc.response)

    hanging = threading.Thread(target=hang)
    hanging.start()
    try:
        deadline = time.monotonic() + 30
        while "hang" not in _runs(runs):
            assert time.monotonic() < deadline, "the hanging request never reached the model"
            time.sleep(0.05)
        # Behind the one worker, held past the timeout: answered, not kept waiting.
        with pytest.raises(ClientError) as behind:
            invoke({"name": "behind"})
        error = behind.value.response
        assert error["Error"]["Code"] == "ModelError"
        assert error["OriginalStatusCode"] == 504
        assert "SAGEMAKER_MODEL_SERVER_TIMEOUT (2 s)" in error["OriginalMessage"]
    finally:
        hanging.join(90)
    # The stuck copy was killed: the hanging request's answer broke off.
    assert len(hung) == 1 and hung[0]["Error"]["Code"] == "ModelError", hung
    assert hung[0]["OriginalStatusCode"] == 0
    assert wait_dead({first}, timeout=30) == set()

    deadline = time.monotonic() + 90
    pid = None
    while pid is None:
        assert time.monotonic() < deadline, "the endpoint did not recover"
        try:
            pid = invoke({"name": "after"})["pid"]
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ServiceUnavailable", exc.response
            time.sleep(0.2)
    assert pid != first
    assert "behind" not in _runs(runs)
    described = esm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    delete(esm, name)
