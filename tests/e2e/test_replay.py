"""``moorage replay`` end to end: capture real traffic, replay it through the command line.

One server of the module's own (flushing captured data every half second)
serves the *mirror* model built with tag ``A`` on a capturing endpoint, and
an endpoint with two variants: ``Same`` (tag ``A``) and ``Other`` (tag
``B``, which answers every request differently). Traffic to the capturing
endpoint is written while the server runs; a copy of those files is what
the tests replay (replayed requests are captured too, so the live folder
keeps growing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moorage.capture import read_capture
from support.capture import data_capture_config, mirror_archive
from support.endpoints import create_model, variant, wait_in_service
from support.moto_s3 import MotoS3
from support.server import BIN, MoorageServer

REQUESTS = 24
TEXT_TYPES = {"csv": ("text/csv",), "json": ("application/json",)}


@dataclass
class Replaying:
    server: MoorageServer
    captured: Path  # a frozen copy of the captured files
    input_only: Path
    output_only: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(BIN / "moorage"),
                "replay",
                *args,
                "--url",
                self.server.url,
                "--data-dir",
                str(self.server.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
        )

    def report(self, *args: str) -> dict[str, Any]:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        return report


def _send(runtime: Any, name: str) -> None:
    for i in range(REQUESTS // 3):
        doc = json.dumps({"i": i})
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=doc, InferenceId=f"r-{i}"
        )
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=f"{i},1.5")
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/x-custom", Body=bytes([i, 0xFE, 0x01])
        )


def _wait_for_records(folder: Path, count: int, timeout_s: float = 15.0) -> None:
    """Until ``count`` records are written, while the server keeps running."""
    deadline = time.monotonic() + timeout_s
    found = 0
    while time.monotonic() < deadline:
        if folder.exists():
            found = len(list(read_capture(folder.as_uri())))
            if found >= count:
                assert found == count
                return
        time.sleep(0.1)
    raise AssertionError(f"{found} of {count} records were written in {timeout_s} s")


@pytest.fixture(scope="module")
def replaying(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[Replaying]:
    tmp = tmp_path_factory.mktemp("replay")
    server = MoorageServer(
        tmp / "data", env=moto_s3.env(), extra_args=("--capture-flush-interval", "0.5")
    ).start()
    try:
        sm, runtime = server.sagemaker, server.client("sagemaker-runtime")
        create_model(sm, "mirror-a", mirror_archive(tmp / "a.tar.gz", "A").as_uri())
        create_model(sm, "mirror-b", mirror_archive(tmp / "b.tar.gz", "B").as_uri())
        folders = {"captured": tmp / "live", "input": tmp / "input", "output": tmp / "output"}
        configs = {
            "captured": data_capture_config(folders["captured"].as_uri(), **TEXT_TYPES),
            "input": data_capture_config(folders["input"].as_uri(), modes=("Input",)),
            "output": data_capture_config(folders["output"].as_uri(), modes=("Output",)),
        }
        for name, capture in configs.items():
            sm.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[variant("AllTraffic", "mirror-a")],
                DataCaptureConfig=capture,
            )
            sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        sm.create_endpoint_config(
            EndpointConfigName="two",
            ProductionVariants=[variant("Same", "mirror-a"), variant("Other", "mirror-b")],
        )
        sm.create_endpoint(EndpointName="two", EndpointConfigName="two")
        for name in (*configs, "two"):
            wait_in_service(sm, name)
        for name in configs:
            _send(runtime, name)
        frozen = {}
        for name, folder in folders.items():
            _wait_for_records(folder, REQUESTS)
            frozen[name] = shutil.copytree(folder, tmp / f"{name}-copy")
        yield Replaying(
            server,
            frozen["captured"],
            frozen["input"],
            frozen["output"],
            env={**os.environ, **moto_s3.env()},
        )
    finally:
        server.stop()


def test_replay_against_the_same_model_is_identical(replaying: Replaying) -> None:
    report = replaying.report(replaying.captured.as_uri(), "--endpoint", "captured")
    assert report["records"] == report["replayed"] == REQUESTS
    assert (report["identical"], report["different"], report["failed"]) == (REQUESTS, 0, 0)
    assert (report["unchecked"], report["skipped"]) == (0, 0)
    assert report["differences"] == report["failures"] == []
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert report["captured_span_seconds"] >= 0


def test_replay_to_a_variant_with_another_model_reports_differences(
    replaying: Replaying,
) -> None:
    same = replaying.report(replaying.captured.as_uri(), "--endpoint", "two", "--variant", "Same")
    assert (same["identical"], same["different"]) == (REQUESTS, 0)

    other = replaying.report(replaying.captured.as_uri(), "--endpoint", "two", "--variant", "Other")
    assert (other["identical"], other["different"], other["failed"]) == (0, REQUESTS, 0)
    first = other["differences"]
    assert len(first) == 5
    assert first[0]["inferenceId"] == "r-0"
    assert first[0]["captured"] == {
        "contentType": "application/json",
        "body": '{"tag": "A", "echo": {"i": 0}}',
    }
    assert first[0]["replayed"] == {
        "contentType": "application/json",
        "body": '{"tag": "B", "echo": {"i": 0}}',
    }
    assert first[1]["captured"]["body"] == "A,0,1.5"
    assert first[1]["replayed"]["body"] == "B,0,1.5"
    assert first[0]["source"].startswith(replaying.captured.as_uri() + "/captured/AllTraffic/")

    text = replaying.run(replaying.captured.as_uri(), "--endpoint", "two", "--variant", "Other")
    assert text.returncode == 0, text.stderr
    assert f"Replayed {REQUESTS} of {REQUESTS} captured requests" in text.stdout
    assert f"different  {REQUESTS:6d}" in text.stdout
    assert "First 5 differences:" in text.stdout
    assert 'replayed: application/json  {"tag": "B", "echo": {"i": 0}}' in text.stdout


def test_replay_from_s3_with_a_limit(replaying: Replaying, moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket("replay")
    for path in sorted(replaying.captured.rglob("*.jsonl")):
        key = "prefix/" + path.relative_to(replaying.captured).as_posix()
        moto_s3.client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    report = replaying.report(f"s3://{bucket}/prefix", "--endpoint", "captured", "--limit", "7")
    assert (report["replayed"], report["identical"]) == (7, 7)


def test_records_without_a_side(replaying: Replaying) -> None:
    inputs = replaying.report(replaying.input_only.as_uri(), "--endpoint", "captured")
    assert (inputs["replayed"], inputs["unchecked"], inputs["identical"]) == (REQUESTS, REQUESTS, 0)
    outputs = replaying.report(replaying.output_only.as_uri(), "--endpoint", "captured")
    assert (outputs["records"], outputs["skipped"], outputs["replayed"]) == (REQUESTS, REQUESTS, 0)
    assert outputs["latency_ms"] == {"p50": None, "p99": None, "max": None}


def test_failures_and_bad_locations(replaying: Replaying, tmp_path: Path) -> None:
    missing = replaying.report(replaying.captured.as_uri(), "--endpoint", "nope", "--limit", "3")
    assert (missing["replayed"], missing["failed"]) == (3, 3)
    assert missing["failures"][0]["error"].startswith("ValidationError: Endpoint nope of account")

    nowhere = replaying.run((tmp_path / "absent").as_uri(), "--endpoint", "captured")
    assert nowhere.returncode == 1
    assert "no such file or directory" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"captureData": {}}\n')
    bad = replaying.run(broken.as_uri(), "--endpoint", "captured")
    assert bad.returncode == 1
    assert "is not a capture record" in bad.stderr

    zero = replaying.run(replaying.captured.as_uri(), "--endpoint", "captured", "--limit", "0")
    assert zero.returncode == 2
