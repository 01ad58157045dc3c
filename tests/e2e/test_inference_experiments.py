"""Inference experiments (shadow tests) end to end: real model copies, boto3, captured files.

An experiment without a Schedule starts at once: the endpoint is updated to
a config with the shadow variant, callers keep getting the production
variant's answers, the shadow gets its sampled copies, and both sides'
request/response pairs land in the DataStorageConfig destination. Stopping
returns the endpoint to the config it had before.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from moorage.capture import CaptureRecord, read_capture
from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.experiments import create_experiment, model_variant, shadow_mode, wait_experiment
from support.names import unique

DAY = 24 * 3600.0


def _endpoint(sm: Any, tmp_path: Path, name: str, count: int = 1) -> None:
    create_model(sm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(sm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[variant("Prod", f"{name}-v1", count=count)],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(sm, name)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _answer_tag(record: CaptureRecord) -> str:
    assert record.endpoint_output is not None
    return str(json.loads(record.endpoint_output.data)["tag"])


def _captured(destination: Path, endpoint: str, expected: int) -> dict[str, list[CaptureRecord]]:
    """Every record written under ``destination``, by variant, once ``expected`` are there."""
    by_variant: dict[str, list[CaptureRecord]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        by_variant = {}
        if destination.exists():
            for record in read_capture(destination.as_uri()):
                variant_name = record.source.split(f"/{endpoint}/", 1)[1].split("/", 1)[0]
                by_variant.setdefault(variant_name, []).append(record)
        if sum(len(v) for v in by_variant.values()) >= expected:
            return by_variant
        time.sleep(0.5)
    return by_variant


def test_experiment_runs_a_shadow_captures_both_sides_and_restores_the_endpoint(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("shadowtest")
    _endpoint(esm, tmp_path, name)
    destination = tmp_path / "captured"
    arn = create_experiment(
        esm,
        name,
        name,
        (f"{name}-v1", "Prod"),
        (f"{name}-v2", "Shadow"),
        50,
        Description="v2 beside v1",
        DataStorageConfig={
            "Destination": destination.as_uri(),
            "ContentType": {"JsonContentTypes": ["application/json"]},
        },
        Tags=[{"Key": "team", "Value": "search"}],
    )
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:inference-experiment/{name}"
    seen: list[str] = []
    running = wait_experiment(esm, name, "Running", seen=seen)
    assert seen[-2:] == ["Starting", "Running"]
    assert {v["Status"] for v in running["ModelVariants"]} == {"InService"}
    assert running["ShadowModeConfig"]["ShadowModelVariants"][0]["SamplingPercentage"] == 50
    assert running["EndpointMetadata"]["EndpointStatus"] == "InService"
    experiment_config = running["EndpointMetadata"]["EndpointConfigName"]
    assert experiment_config != f"{name}-c1"
    window = running["Schedule"]["EndTime"] - running["Schedule"]["StartTime"]
    assert window.total_seconds() == pytest.approx(7 * DAY)
    assert esm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "search"}]

    described = esm.describe_endpoint(EndpointName=name)
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Prod"]
    (shadow,) = described["ShadowProductionVariants"]
    assert shadow["VariantName"] == "Shadow"
    assert shadow["CurrentWeight"] == pytest.approx(0.5)

    # Conflicts while running.
    for call in (esm.start_inference_experiment, esm.delete_inference_experiment):
        with pytest.raises(ClientError) as conflict:
            call(Name=name)
        assert _code(conflict) == "ConflictException"
        assert "Running" in conflict.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as in_use:
        create_experiment(esm, f"{name}-b", name, (f"{name}-v1", "Prod"), (f"{name}-v2", "S"), 5)
    assert _code(in_use) == "ResourceInUse"

    requests = 80
    for i in range(requests):
        reply = runtime.invoke_endpoint(
            EndpointName=name,
            ContentType="application/json",
            Body=json.dumps({"op": "echo", "i": i}),
            InferenceId=f"req-{i}",
        )
        assert json.loads(reply["Body"].read())["tag"] == "v1"

    esm.stop_inference_experiment(
        Name=name,
        ModelVariantActions={"Prod": "Retain", "Shadow": "Remove"},
        DesiredState="Completed",
        Reason="enough data",
    )
    done = wait_experiment(esm, name, "Completed")
    assert done["StatusReason"] == "enough data"
    assert done["CompletionTime"] >= done["Schedule"]["StartTime"]
    statuses = {v["VariantName"]: v["Status"] for v in done["ModelVariants"]}
    assert statuses == {"Prod": "InService", "Shadow": "Deleted"}
    after = esm.describe_endpoint(EndpointName=name)
    assert after["EndpointConfigName"] == f"{name}-c1"
    assert "ShadowProductionVariants" not in after
    with pytest.raises(ClientError):
        esm.describe_endpoint_config(EndpointConfigName=experiment_config)

    records = _captured(destination, name, requests + 1)
    production = records["Prod"]
    copies = records.get("Shadow", [])
    assert len(production) == requests
    # Binomial(80, 0.5): mean 40, standard deviation 4.5.
    assert 17 <= len(copies) <= 63, len(copies)
    sent = {f"req-{i}": {"op": "echo", "i": i} for i in range(requests)}
    for record in production + copies:
        assert record.endpoint_input is not None and record.endpoint_output is not None
        assert record.endpoint_input.encoding == "JSON"
        assert json.loads(record.endpoint_input.data) == sent[record.inference_id or ""]
        answer = json.loads(record.endpoint_output.data)
        assert answer["data"] == sent[record.inference_id or ""]
    assert {_answer_tag(r) for r in production} == {"v1"}
    assert {_answer_tag(r) for r in copies} == {"v2"}

    # Conflicts once completed; delete is allowed.
    for call, extra in (
        (esm.update_inference_experiment, {"Description": "late"}),
        (esm.start_inference_experiment, {}),
        (esm.stop_inference_experiment, {"ModelVariantActions": {"Prod": "Retain"}}),
    ):
        with pytest.raises(ClientError) as conflict:
            call(Name=name, **extra)
        assert _code(conflict) == "ConflictException"
    esm.delete_inference_experiment(Name=name)
    with pytest.raises(ClientError) as gone:
        esm.describe_inference_experiment(Name=name)
    assert _code(gone) == "ResourceNotFound"
    delete(esm, name)


def test_an_experiment_captures_the_streamed_answers_of_both_variants(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("streamtest")
    text = {"JsonContentTypes": ["application/json", "text/plain"]}
    create_model(esm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(esm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    # The endpoint's own DataCaptureConfig keeps capturing production beside the experiment.
    endpoint_capture = tmp_path / "endpoint-capture"
    esm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[variant("Prod", f"{name}-v1")],
        DataCaptureConfig={
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": endpoint_capture.as_uri(),
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            "CaptureContentTypeHeader": text,
        },
    )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(esm, name)
    destination = tmp_path / "captured"
    create_experiment(
        esm,
        name,
        name,
        (f"{name}-v1", "Prod"),
        (f"{name}-v2", "Shadow"),
        100,
        DataStorageConfig={"Destination": destination.as_uri(), "ContentType": text},
    )
    wait_experiment(esm, name, "Running")

    requests = 6
    sent = {}
    for i in range(requests):
        body = json.dumps({"op": "stream", "n": 3, "tagged": True, "i": i})
        answer = runtime.invoke_endpoint_with_response_stream(
            EndpointName=name, ContentType="application/json", Body=body, InferenceId=f"req-{i}"
        )
        parts = b"".join(event["PayloadPart"]["Bytes"] for event in answer["Body"])
        assert parts == b"v1-0;v1-1;v1-2;"
        sent[f"req-{i}"] = body

    # Read while the experiment runs: its capture ends with it.
    records = _captured(destination, name, 2 * requests)
    assert sorted(records) == ["Prod", "Shadow"]
    for variant_name, tag in (("Prod", "v1"), ("Shadow", "v2")):
        captured = records[variant_name]
        assert sorted(r.inference_id or "" for r in captured) == sorted(sent), variant_name
        for record in captured:
            assert record.endpoint_input is not None and record.endpoint_output is not None
            assert record.endpoint_input.data == sent[record.inference_id or ""]
            # The whole streamed answer, its chunks joined.
            assert record.endpoint_output.data == f"{tag}-0;{tag}-1;{tag}-2;"
    # Each production pair once in each destination; shadow copies only in the experiment's.
    by_endpoint_config = _captured(endpoint_capture, name, requests)
    assert sorted(by_endpoint_config) == ["Prod"]
    assert len(by_endpoint_config["Prod"]) == requests

    esm.stop_inference_experiment(Name=name, ModelVariantActions={"Prod": "Retain"})
    wait_experiment(esm, name, "Completed")
    delete(esm, name)


def test_a_scheduled_experiment_waits_and_can_be_changed_started_early(
    esm: Any, tmp_path: Path
) -> None:
    name = unique("scheduled")
    _endpoint(esm, tmp_path, name)
    now = time.time()
    create_experiment(
        esm,
        name,
        name,
        (f"{name}-v1", "Prod"),
        (f"{name}-v2", "Shadow"),
        10,
        Schedule={"StartTime": now + DAY, "EndTime": now + 2 * DAY},
    )
    created = wait_experiment(esm, name, "Created")
    assert {v["Status"] for v in created["ModelVariants"]} == {"Creating"}
    assert esm.describe_endpoint(EndpointName=name).get("ShadowProductionVariants") is None
    with pytest.raises(ClientError) as conflict:
        esm.stop_inference_experiment(Name=name, ModelVariantActions={"Shadow": "Remove"})
    assert _code(conflict) == "ConflictException"
    listed = esm.list_inference_experiments(NameContains=name, StatusEquals="Created")
    assert [e["Name"] for e in listed["InferenceExperiments"]] == [name]

    # Created: both dates, the variants and the sampling may change.
    esm.update_inference_experiment(
        Name=name,
        Schedule={"StartTime": now + 2 * DAY, "EndTime": now + 3 * DAY},
        ShadowModeConfig=shadow_mode("Prod", "Shadow", 100),
        Description="all of it",
    )
    updated = wait_experiment(esm, name, "Created")
    assert updated["Schedule"]["StartTime"].timestamp() == pytest.approx(now + 2 * DAY, abs=1e-3)
    assert updated["Description"] == "all of it"
    with pytest.raises(ClientError) as too_long:
        esm.update_inference_experiment(
            Name=name, Schedule={"StartTime": now + DAY, "EndTime": now + 40 * DAY}
        )
    assert _code(too_long) == "ValidationException"

    esm.start_inference_experiment(Name=name)
    running = wait_experiment(esm, name, "Running")
    assert running["Schedule"]["StartTime"].timestamp() <= time.time()
    assert running["Schedule"]["EndTime"].timestamp() == pytest.approx(now + 3 * DAY, abs=1e-3)
    assert esm.describe_endpoint(EndpointName=name)["ShadowProductionVariants"][0][
        "CurrentWeight"
    ] == pytest.approx(1.0)

    # Running: the start date may not change; the end date and sampling may.
    with pytest.raises(ClientError) as start_change:
        esm.update_inference_experiment(
            Name=name, Schedule={"StartTime": now + DAY, "EndTime": now + 2 * DAY}
        )
    assert _code(start_change) == "ValidationException"
    esm.update_inference_experiment(
        Name=name,
        Schedule={"EndTime": now + 2 * DAY},
        ShadowModeConfig=shadow_mode("Prod", "Shadow", 25),
    )
    again = wait_experiment(esm, name, "Running")
    assert again["Schedule"]["EndTime"].timestamp() == pytest.approx(now + 2 * DAY, abs=1e-3)
    shadow = esm.describe_endpoint(EndpointName=name)["ShadowProductionVariants"][0]
    assert shadow["CurrentWeight"] == pytest.approx(0.25)

    esm.stop_inference_experiment(
        Name=name,
        ModelVariantActions={"Prod": "Retain", "Shadow": "Retain"},
        DesiredState="Cancelled",
    )
    cancelled = wait_experiment(esm, name, "Cancelled")
    assert {v["Status"] for v in cancelled["ModelVariants"]} == {"InService"}
    kept = esm.describe_endpoint(EndpointName=name)
    assert kept["ShadowProductionVariants"][0]["VariantName"] == "Shadow"
    assert kept["EndpointConfigName"] == cancelled["EndpointMetadata"]["EndpointConfigName"]
    delete(esm, name)


def test_experiment_requests_are_checked(esm: Any, tmp_path: Path) -> None:
    name = unique("checked")
    create_model(esm, name, toolbox_archive(tmp_path / "m.tar.gz").as_uri())
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({}, "ValidationException", "Could not find endpoint"),
        (
            {"ModelVariants": [model_variant(name, "Prod")]},
            "ValidationException",
            "exactly two ModelVariants",
        ),
        (
            {"ShadowModeConfig": shadow_mode("Prod", "Other", 10)},
            "ValidationException",
            "not one of the ModelVariants",
        ),
        (
            {"ShadowModeConfig": shadow_mode("Prod", "Shadow", -1)},
            "ValidationException",
            "SamplingPercentage",
        ),
        (
            {"ModelVariants": [model_variant(name, "Prod"), model_variant("nope", "Shadow")]},
            "ValidationException",
            "Could not find model",
        ),
        (
            {"Schedule": {"StartTime": time.time() + 10, "EndTime": time.time() + 5}},
            "ValidationException",
            "later than",
        ),
        (
            {"DataStorageConfig": {"Destination": "https://example.com/captured"}},
            "ValidationException",
            "DataStorageConfig is not valid",
        ),
    ]
    for override, code, message in cases:
        params: dict[str, Any] = {
            "Name": name,
            "Type": "ShadowMode",
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "EndpointName": f"{name}-missing",
            "ModelVariants": [model_variant(name, "Prod"), model_variant(name, "Shadow")],
            "ShadowModeConfig": shadow_mode("Prod", "Shadow", 10),
            **override,
        }
        with pytest.raises(ClientError) as error:
            esm.create_inference_experiment(**params)
        assert _code(error) == code, (override, error.value.response["Error"])
        assert message in error.value.response["Error"]["Message"], override
    assert esm.list_inference_experiments(NameContains=name)["InferenceExperiments"] == []
    for call, extra in (
        (esm.describe_inference_experiment, {}),
        (esm.start_inference_experiment, {}),
        (esm.delete_inference_experiment, {}),
        (esm.update_inference_experiment, {}),
        (esm.stop_inference_experiment, {"ModelVariantActions": {"Prod": "Retain"}}),
    ):
        with pytest.raises(ClientError) as missing:
            call(Name=name, **extra)
        assert _code(missing) == "ResourceNotFound"
