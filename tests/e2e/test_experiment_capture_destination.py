"""An endpoint's own data capture and a shadow test's capture naming one destination.

Both lay records out as ``{destination}/{endpoint}/{variant}/yyyy/mm/dd/hh/``;
each answered request is written there once per variant (AWS's endpoint has
one capture configuration, so it never writes a pair twice).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from moorage.capture import CaptureRecord, read_capture
from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.experiments import create_experiment, wait_experiment
from support.names import unique

REQUESTS = 300


def _records(destination: Path, endpoint: str) -> dict[str, list[CaptureRecord]]:
    by_variant: dict[str, list[CaptureRecord]] = {}
    if destination.exists():
        for record in read_capture(destination.as_uri()):
            variant_name = record.source.split(f"/{endpoint}/", 1)[1].split("/", 1)[0]
            by_variant.setdefault(variant_name, []).append(record)
    return by_variant


def _settled(destination: Path, endpoint: str, expected: dict[str, int]) -> dict[str, int]:
    """Record counts per variant once they reach ``expected`` and stay put for a while."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = {k: len(v) for k, v in _records(destination, endpoint).items()}
        if all(counts.get(k, 0) >= n for k, n in expected.items()):
            break
        time.sleep(0.5)
    time.sleep(3)  # anything written twice would land by now (the writer flushes each second)
    return {k: len(v) for k, v in _records(destination, endpoint).items()}


def _invoke(runtime: Any, endpoint: str, first: int, count: int) -> None:
    for i in range(first, first + count):
        reply = runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Body=json.dumps({"op": "echo", "i": i}),
            InferenceId=f"req-{i}",
        )
        assert json.loads(reply["Body"].read())["tag"] == "v1"


def test_one_record_per_answer_and_variant_in_a_shared_destination(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("samedest")
    create_model(esm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(esm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    destination = tmp_path / "captured"
    esm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[variant("Prod", f"{name}-v1")],
        DataCaptureConfig={
            "InitialSamplingPercentage": 100,
            # The same place as the experiment's, spelled with a trailing slash.
            "DestinationS3Uri": destination.as_uri() + "/",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(esm, name)
    create_experiment(
        esm,
        name,
        name,
        (f"{name}-v1", "Prod"),
        (f"{name}-v2", "Shadow"),
        100,
        DataStorageConfig={
            "Destination": destination.as_uri(),
            "ContentType": {"JsonContentTypes": ["application/json"]},
        },
    )
    wait_experiment(esm, name, "Running")

    _invoke(runtime, name, 0, REQUESTS)
    counts = _settled(destination, name, {"Prod": REQUESTS, "Shadow": REQUESTS})
    assert counts == {"Prod": REQUESTS, "Shadow": REQUESTS}
    records = _records(destination, name)
    sent = {f"req-{i}" for i in range(REQUESTS)}
    for variant_name, tag in (("Prod", "v1"), ("Shadow", "v2")):
        captured = records[variant_name]
        assert sorted(r.inference_id or "" for r in captured) == sorted(sent), variant_name
        for record in captured:
            assert record.endpoint_output is not None
            assert json.loads(record.endpoint_output.data)["tag"] == tag

    # Once the experiment is over, the endpoint's own capture goes on alone.
    esm.stop_inference_experiment(Name=name, ModelVariantActions={"Prod": "Retain"})
    wait_experiment(esm, name, "Completed")
    wait_in_service(esm, name)
    _invoke(runtime, name, REQUESTS, 20)
    counts = _settled(destination, name, {"Prod": REQUESTS + 20})
    assert counts == {"Prod": REQUESTS + 20, "Shadow": REQUESTS}
    delete(esm, name)
