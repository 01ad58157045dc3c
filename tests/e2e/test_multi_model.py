"""Multi-model endpoints end to end: models in moto's S3, loaded on demand by real model servers.

One server for the module (metrics sampled every second), three endpoints:

- ``wide``: two instances of an ml.m5.large (8 GiB each), 20 small models;
- ``tight``: one instance whose models may hold 14 MiB
  (``MOORAGE_MULTI_MODEL_MEMORY_MB``), models of 4 MiB: three fit, a fourth
  evicts the least recently used;
- ``uncached``: ``ModelCacheSetting`` ``Disabled``.

Each test uses model names of its own, so that what one test leaves loaded
only ever makes the oldest models of the next.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import write_archive
from support.endpoints import IMAGE, ROLE, create_endpoint, variant, wait_in_service
from support.moto_s3 import MotoS3
from support.multi_models import model_archive
from support.raw import request
from support.server import BIN, MoorageServer, running

MIB = 1024 * 1024
PREFIX = "models/"
# Four 4 MiB models do not fit in 14 MiB; three do, with room for measurement noise.
TIGHT_MB = 14
BIG = 4 * MIB


# A mapped image's own multi-model server, standard library only: SageMaker's
# multi-model container contract, each model a folder with greeting.txt.
MAPPED_SERVER = """
import http.server
import json
import os
import urllib.parse

PORT = int(os.environ["SAGEMAKER_BIND_TO_PORT"])
MODELS = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, status, answer):
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _name(self):
        return urllib.parse.unquote(self.path.split("/")[2])

    def do_GET(self):
        if self.path == "/ping":
            self._reply(200, {"multi_model": os.environ.get("SAGEMAKER_MULTI_MODEL")})
        elif self.path == "/models":
            self._reply(200, {"models": [{"modelName": n, "modelUrl": u}
                                         for n, (u, _) in sorted(MODELS.items())]})
        else:
            self._reply(404, {})

    def do_POST(self):
        body = self._body()
        if self.path == "/models":
            request = json.loads(body)
            name, url = request["model_name"], request["url"]
            if name in MODELS:
                return self._reply(409, {"error": "already loaded"})
            with open(os.path.join(url, "greeting.txt")) as handle:
                MODELS[name] = (url, handle.read().strip())
            return self._reply(200, {"modelName": name})
        name = self._name()
        if name not in MODELS:
            return self._reply(404, {"error": "not loaded"})
        target = self.headers.get("X-Amzn-SageMaker-Target-Model")
        self._reply(200, {"greeting": MODELS[name][1], "input": body.decode(),
                          "target": target, "loaded": len(MODELS)})

    def do_DELETE(self):
        name = self._name()
        if MODELS.pop(name, None) is None:
            return self._reply(404, {"error": "not loaded"})
        self._reply(200, {})

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""
MAPPED_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-mme-server:1.0"


@pytest.fixture(scope="module")
def mme(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[MoorageServer]:
    work = tmp_path_factory.mktemp("mme")
    script = work / "mme_server.py"
    script.write_text(MAPPED_SERVER)
    image_map = work / "images.json"
    rule = {
        "match": "*/my-mme-server:*",
        "name": "my-mme-server",
        "command": ["{python}", str(script)],
    }
    image_map.write_text(json.dumps({"images": [rule]}))
    with running(
        work / "data",
        env=moto_s3.env(),
        extra_args=("--metrics-sample-interval", "1", "--image-map", str(image_map)),
    ) as server:
        yield server


@pytest.fixture(scope="module")
def bucket(moto_s3: MotoS3) -> str:
    return moto_s3.new_bucket("mme")


@pytest.fixture(scope="module")
def runtime(mme: MoorageServer) -> Any:
    return mme.client("sagemaker-runtime")


class Uploads:
    def __init__(self, moto: MotoS3, bucket: str, folder: Path) -> None:
        self.moto = moto
        self.bucket = bucket
        self.folder = folder

    def put(self, target: str, name: str, weight_bytes: int = 4096) -> str:
        path = model_archive(self.folder / target, name, weight_bytes)
        self.moto.client.upload_file(str(path), self.bucket, PREFIX + target)
        return target


@pytest.fixture(scope="module")
def uploads(moto_s3: MotoS3, bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Uploads:
    return Uploads(moto_s3, bucket, tmp_path_factory.mktemp("archives"))


def deploy_mme(
    server: MoorageServer,
    name: str,
    bucket: str,
    *,
    count: int = 1,
    image: str = IMAGE,
    **container: Any,
) -> None:
    sm = server.sagemaker
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image,
            "Mode": "MultiModel",
            "ModelDataUrl": f"s3://{bucket}/{PREFIX}",
            **container,
        },
        ExecutionRoleArn=ROLE,
    )
    create_endpoint(sm, name, [variant("AllTraffic", name, count=count)])
    wait_in_service(sm, name)


@pytest.fixture(scope="module")
def wide(mme: MoorageServer, bucket: str) -> str:
    deploy_mme(mme, "wide", bucket, count=2)
    return "wide"


@pytest.fixture(scope="module")
def tight(mme: MoorageServer, bucket: str) -> str:
    deploy_mme(mme, "tight", bucket, Environment={"MOORAGE_MULTI_MODEL_MEMORY_MB": str(TIGHT_MB)})
    return "tight"


def invoke(runtime: Any, endpoint: str, target: str, body: str = '{"x": 1}') -> dict[str, Any]:
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, TargetModel=target, Body=body, ContentType="application/json"
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    result: dict[str, Any] = json.loads(answer["Body"].read())
    return result


def page(server: MoorageServer, endpoint: str) -> dict[str, Any]:
    reply = request(server.url, "GET", f"/moorage/models/{endpoint}")
    assert reply.status == 200, reply.body
    document: dict[str, Any] = reply.json()
    return document


def loaded(server: MoorageServer, endpoint: str) -> list[list[str]]:
    """Per copy, its models from least to most recently used."""
    return [[m["target_model"] for m in c["models"]] for c in page(server, endpoint)["copies"]]


def stats(server: MoorageServer, endpoint: str, target: str) -> dict[str, Any]:
    found = [m for m in page(server, endpoint)["models"] if m["target_model"] == target]
    assert len(found) == 1, target
    return found[0]


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response


def test_twenty_models_by_target_model_each_served_where_it_is_loaded(
    mme: MoorageServer, runtime: Any, uploads: Uploads, wide: str
) -> None:
    targets = [uploads.put(f"twenty/m{i}.tar.gz", f"twenty-{i}") for i in range(20)]
    first = {t: invoke(runtime, wide, t) for t in targets}
    assert {t: a["model"] for t, a in first.items()} == {
        t: f"twenty-{i}" for i, t in enumerate(targets)
    }
    assert all(a["loads"] == 1 for a in first.values())
    # Each model is loaded on one copy, and served there again: no second load.
    again = {t: invoke(runtime, wide, t) for t in targets}
    for target in targets:
        assert again[target]["pid"] == first[target]["pid"], target
        assert again[target]["loads"] == 1
        counted = stats(mme, wide, target)
        assert (counted["invocations"], counted["loads"], counted["cache_hits"]) == (2, 1, 1)
        assert counted["loaded_on"] == 1
    copies = page(mme, wide)["copies"]
    assert len(copies) == 2
    assert sum(len(c["models"]) for c in copies) == 20


def test_concurrent_first_requests_load_the_model_once(
    mme: MoorageServer, runtime: Any, uploads: Uploads, tight: str
) -> None:
    target = uploads.put("concurrent/m.tar.gz", "concurrent", BIG)
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def call() -> None:
        try:
            client = mme.client("sagemaker-runtime")
            start.wait()
            answers.append(invoke(client, tight, target))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert len(answers) == 8 and {a["loads"] for a in answers} == {1}
    counted = stats(mme, tight, target)
    assert counted["loads"] == 1 and counted["invocations"] == 8


def test_least_recently_used_models_are_evicted_under_a_small_budget(
    mme: MoorageServer, runtime: Any, uploads: Uploads, tight: str
) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    a, b, c, d = (uploads.put(f"lru/{n}.tar.gz", f"lru-{n}", BIG) for n in "abcd")
    for target in (a, b, c):
        assert invoke(runtime, tight, target)["loads"] == 1
    assert loaded(mme, tight) == [[a, b, c]]
    assert invoke(runtime, tight, a)["loads"] == 1  # a cache hit: a is now the newest
    assert loaded(mme, tight) == [[b, c, a]]
    invoke(runtime, tight, d)  # no room for four: b, the least recently used, goes
    assert loaded(mme, tight) == [[c, a, d]]
    assert invoke(runtime, tight, b)["loads"] == 2  # b comes back: loaded a second time
    assert loaded(mme, tight) == [[a, d, b]]
    copy = page(mme, tight)["copies"][0]
    assert copy["memory_budget_bytes"] == TIGHT_MB * MIB
    assert all(m["footprint_bytes"] >= BIG for m in copy["models"])
    assert copy["memory_used_bytes"] <= TIGHT_MB * MIB
    assert stats(mme, tight, b)["unloads"] == 1 and stats(mme, tight, c)["unloads"] == 1

    cloudwatch = mme.client("cloudwatch")

    def statistic(namespace: str, metric: str, stat: str) -> float | None:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[
                {"Name": "EndpointName", "Value": tight},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            StartTime=since,
            EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
            Period=3600,
            Statistics=[stat],
        )["Datapoints"]
        return points[0][stat] if points else None

    # Five loads (b twice), four downloads, two unloads; six requests, one a hit.
    assert (statistic("AWS/SageMaker", "ModelLoadingTime", "SampleCount") or 0) >= 5
    assert (statistic("AWS/SageMaker", "ModelDownloadingTime", "SampleCount") or 0) >= 4
    assert (statistic("AWS/SageMaker", "ModelUnloadingTime", "SampleCount") or 0) >= 2
    assert (statistic("AWS/SageMaker", "ModelLoadingWaitTime", "Minimum") or 0) > 0
    assert (statistic("AWS/SageMaker", "ModelCacheHit", "Sum") or 0) >= 1
    assert 0 < (statistic("AWS/SageMaker", "ModelCacheHit", "Average") or 0) < 1
    for metric in ("ModelLoadingTime", "ModelLoadingWaitTime"):
        listed = cloudwatch.list_metrics(Namespace="AWS/SageMaker", MetricName=metric)
        assert any(
            {d["Name"] for d in m["Dimensions"]} == {"EndpointName", "VariantName"}
            for m in listed["Metrics"]
        )
    deadline = time.monotonic() + 30
    while statistic("/aws/sagemaker/Endpoints", "LoadedModelCount", "Maximum") != 3:
        assert time.monotonic() < deadline, "LoadedModelCount was not sampled"
        time.sleep(0.5)


def test_a_replaced_object_is_not_picked_up_while_the_model_is_on_the_instance(
    mme: MoorageServer, runtime: Any, uploads: Uploads, tight: str
) -> None:
    target = uploads.put("replaced/m.tar.gz", "version-1", BIG)
    assert invoke(runtime, tight, target)["model"] == "version-1"
    uploads.put("replaced/m.tar.gz", "version-2", BIG)
    assert invoke(runtime, tight, target)["model"] == "version-1"  # still loaded
    for n in range(3):  # push it out of memory
        invoke(runtime, tight, uploads.put(f"replaced/other-{n}.tar.gz", f"other-{n}", BIG))
    assert target not in loaded(mme, tight)[0]
    # Loaded again from the instance's disk, as AWS warns: use a new name for a new version.
    again = invoke(runtime, tight, target)
    assert again["model"] == "version-1" and again["loads"] == 2


def test_caching_disabled_loads_the_model_for_each_request(
    mme: MoorageServer, runtime: Any, uploads: Uploads, bucket: str
) -> None:
    deploy_mme(mme, "uncached", bucket, MultiModelConfig={"ModelCacheSetting": "Disabled"})
    target = uploads.put("uncached/m.tar.gz", "uncached")
    assert [invoke(runtime, "uncached", target)["loads"] for _ in range(3)] == [1, 2, 3]
    deadline = time.monotonic() + 30
    while stats(mme, "uncached", target)["unloads"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert loaded(mme, "uncached") == [[]]
    assert stats(mme, "uncached", target)["cache_hits"] == 0
    described = mme.sagemaker.describe_model(ModelName="uncached")["PrimaryContainer"]
    assert described["Mode"] == "MultiModel"
    assert described["MultiModelConfig"] == {"ModelCacheSetting": "Disabled"}


def test_target_model_errors_are_sagemakers(
    mme: MoorageServer, runtime: Any, uploads: Uploads, wide: str, tight: str, bucket: str
) -> None:
    call = runtime.invoke_endpoint
    body = {"EndpointName": wide, "Body": b"{}", "ContentType": "application/json"}
    code, message, _ = error_of(call, **body)
    assert code == "ValidationError"
    assert message.startswith("Request ") and message.endswith("is missing a target model header.")
    code, message, _ = error_of(call, TargetModel="missing.tar.gz", **body)
    assert code == "ValidationError"
    assert message.startswith(
        f"Failed to download model data(bucket: {bucket}, key: {PREFIX}missing.tar.gz). "
        "Please ensure that there is an object located at the URL"
    )
    code, message, _ = error_of(call, TargetModel="../escape.tar.gz", **body)
    assert code == "ValidationError" and "TargetModel" in message
    broken = uploads.put("errors/broken.tar.gz", "broken")
    code, message, response = error_of(call, TargetModel=broken, **body)
    assert code == "ModelError" and response["OriginalStatusCode"] == 500
    assert "broken on purpose" in response["OriginalMessage"]
    assert response["LogStreamArn"].startswith("arn:aws:logs:")
    huge = uploads.put("errors/huge.tar.gz", "huge", (TIGHT_MB + 2) * MIB)
    code, message, _ = error_of(
        call, EndpointName=tight, TargetModel=huge, Body=b"{}", ContentType="application/json"
    )
    assert code == "ValidationError" and "more than the 14.0 MiB" in message
    code, message, _ = error_of(
        runtime.invoke_endpoint_with_response_stream,
        EndpointName=wide,
        Body=b"{}",
        ContentType="application/json",
    )
    assert code == "ValidationError" and "InvokeEndpoint" in message
    # The endpoint still serves.
    assert invoke(runtime, wide, uploads.put("errors/fine.tar.gz", "fine"))["model"] == "fine"


def test_models_command_and_page(mme: MoorageServer, uploads: Uploads, wide: str) -> None:
    done = subprocess.run(
        [str(BIN / "moorage"), "models", wide, "--url", mme.url, "--data-dir", str(mme.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Endpoint wide (InService)" in done.stdout
    assert "twenty/m0.tar.gz" in done.stdout and "INVOCATIONS" in done.stdout
    missing = request(mme.url, "GET", "/moorage/models/no-such-endpoint")
    assert missing.status == 400 and b"Could not find endpoint" in missing.body
    assert request(mme.url, "GET", "/moorage/models/").status == 404
    unsigned = request(mme.url, "GET", f"/moorage/models/{wide}", sign=False)
    assert unsigned.status == 403


def test_a_mapped_image_gets_the_multi_model_container_contract(
    mme: MoorageServer, runtime: Any, uploads: Uploads, bucket: str
) -> None:
    deploy_mme(
        mme,
        "mapped",
        bucket,
        image=MAPPED_IMAGE,
        Environment={"MOORAGE_MULTI_MODEL_MEMORY_MB": str(TIGHT_MB)},
    )
    targets = []
    for n in range(4):
        target = f"mapped/m{n}.tar.gz"
        path = write_archive(
            uploads.folder / target, {"greeting.txt": f"hello {n}", "weights.bin": bytes(BIG)}
        )
        uploads.moto.client.upload_file(str(path), bucket, PREFIX + target)
        targets.append(target)
    answers = [invoke(runtime, "mapped", t, body="x") for t in targets[:3]]
    assert [a["greeting"] for a in answers] == ["hello 0", "hello 1", "hello 2"]
    # The original TargetModel travels with the invocation; the server holds what was loaded.
    assert [a["target"] for a in answers] == targets[:3]
    assert [a["loaded"] for a in answers] == [1, 2, 3] and answers[0]["input"] == "x"
    # A fourth does not fit: the oldest is unloaded through DELETE /models/{name} first.
    assert invoke(runtime, "mapped", targets[3])["loaded"] == 3
    assert loaded(mme, "mapped") == [targets[1:]]
    assert invoke(runtime, "mapped", targets[0])["greeting"] == "hello 0"
    assert stats(mme, "mapped", targets[0])["loads"] == 2
    (deployed,) = mme.sagemaker.describe_endpoint(EndpointName="mapped")["ProductionVariants"][0][
        "DeployedImages"
    ]
    assert deployed["ResolvedImage"] == "my-mme-server"
