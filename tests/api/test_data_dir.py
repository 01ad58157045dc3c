"""The data dir: file roots, one server at a time, a lost or a damaged database.

Every test starts real ``moorage serve`` processes on data dirs of its own
and talks to them through boto3; refusals to start are checked on the
command line's exit status and output, as a user would see them.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.components import component_endpoint
from support.endpoints import ROLE
from support.server import BIN, MoorageServer, running

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"


def error_of(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def serve_once(
    data_dir: Path, *extra: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``moorage serve`` that is expected to refuse to start (it is killed if it does start)."""
    try:
        return subprocess.run(
            [str(BIN / "moorage"), "serve", "--port", "0", "--data-dir", str(data_dir), *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"moorage serve did not refuse to start: {exc.stdout!r}") from None


def assert_one_line_refusal(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith("moorage serve: ")
    for fragment in fragments:
        assert fragment in line, line
    return line


# -- --file-root ---------------------------------------------------------------


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two roots, and a directory outside both with a model and a link into it."""
    models, capture, outside = tmp_path / "models", tmp_path / "capture", tmp_path / "outside"
    for folder in (models, capture, outside):
        folder.mkdir()
    (outside / "model.tar.gz").write_bytes(b"not read")
    (models / "sneaky").symlink_to(outside)
    return models, capture, outside


@pytest.fixture
def confined(tmp_path: Path, roots: tuple[Path, Path, Path]) -> Iterator[MoorageServer]:
    models, capture, _ = roots
    args = ("--file-root", str(models), "--file-root", str(capture))
    with running(tmp_path / "data", extra_args=args) as server:
        yield server


def test_model_data_outside_the_roots_is_refused(
    confined: MoorageServer, roots: tuple[Path, Path, Path]
) -> None:
    models, capture, outside = roots
    sm = confined.sagemaker
    refused = {
        "plain": {"ModelDataUrl": str(outside / "model.tar.gz")},
        "file-url": {"ModelDataUrl": (outside / "model.tar.gz").as_uri()},
        "dot-dot": {"ModelDataUrl": f"{models}/../outside/model.tar.gz"},
        "symlink": {"ModelDataUrl": f"{models}/sneaky/model.tar.gz"},
        "data-source": {
            "ModelDataSource": {
                "S3DataSource": {
                    "S3Uri": f"file://{outside}/",
                    "S3DataType": "S3Prefix",
                    "CompressionType": "None",
                }
            }
        },
    }
    for case, container in refused.items():
        code, message, status = error_of(
            sm.create_model,
            ModelName=f"refused-{case}",
            PrimaryContainer={"Image": IMAGE, **container},
        )
        assert (code, status) == ("ValidationException", 400), case
        assert "outside the file roots" in message, message
        assert str(outside) in message and str(models) in message and str(capture) in message
        # Nothing was created.
        code, _, _ = error_of(sm.describe_model, ModelName=f"refused-{case}")
        assert code == "ValidationException"
    assert (
        "resolves to"
        in error_of(
            sm.create_model,
            ModelName="refused-link",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"{models}/sneaky/model.tar.gz"},
        )[1]
    )
    _, message, _ = error_of(
        sm.create_model,
        ModelName="refused-containers",
        Containers=[
            {"Image": IMAGE, "ModelDataUrl": "s3://bucket/a.tar.gz"},
            {"Image": IMAGE, "ModelDataUrl": f"file://{outside}/model.tar.gz"},
        ],
    )
    assert "Containers.2.ModelDataUrl" in message
    # Inside a root, on S3 and with no model data at all: accepted.
    for name, container in {
        "inside": {"ModelDataUrl": (models / "model.tar.gz").as_uri()},
        "on-s3": {"ModelDataUrl": "s3://bucket/model.tar.gz"},
        "no-data": {},
    }.items():
        sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE, **container})
    assert {m["ModelName"] for m in sm.list_models()["Models"]} == {"inside", "on-s3", "no-data"}


def test_loader_variables_and_code_locations(
    confined: MoorageServer, roots: tuple[Path, Path, Path]
) -> None:
    models, _, outside = roots
    sm = confined.sagemaker
    for name, value in {
        "PYTHONPATH": f"{models}/lib:{outside}",
        "LD_PRELOAD": f"{outside}/evil.so",
        "LD_LIBRARY_PATH": str(outside),
        "PYTHONSTARTUP": f"{outside}/startup.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": f"file://{outside}/code",
    }.items():
        code, message, status = error_of(
            sm.create_model,
            ModelName="env-refused",
            PrimaryContainer={"Image": IMAGE, "Environment": {name: value}},
        )
        assert (code, status) == ("ValidationException", 400)
        assert f"PrimaryContainer.Environment.{name}" in message, message
    sm.create_model(
        ModelName="env-accepted",
        PrimaryContainer={
            "Image": IMAGE,
            "Environment": {
                "PYTHONPATH": f"{models}/lib",
                "LD_PRELOAD": "libjemalloc.so.2",
                # What the SageMaker SDK sets for a repacked model, and for code on S3.
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                "SAGEMAKER_PROGRAM": "inference.py",
                "OTHER": str(outside),
            },
        },
    )
    sm.create_model(
        ModelName="code-on-s3",
        PrimaryContainer={
            "Image": IMAGE,
            "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "s3://bucket/sourcedir.tar.gz"},
        },
    )


def test_capture_destinations_outside_the_roots_are_refused(
    confined: MoorageServer, roots: tuple[Path, Path, Path]
) -> None:
    _, capture, outside = roots
    sm = confined.sagemaker
    sm.create_model(ModelName="m1", PrimaryContainer={"Image": IMAGE})
    sm.create_model(ModelName="m2", PrimaryContainer={"Image": IMAGE})

    def config(name: str, destination: str) -> None:
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "m1",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            DataCaptureConfig={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": destination,
                "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            },
        )

    code, message, _ = error_of(config, name="capture-out", destination=f"file://{outside}/cap")
    assert code == "ValidationException"
    assert "DataCaptureConfig.DestinationS3Uri" in message and str(outside) in message
    assert error_of(sm.describe_endpoint_config, EndpointConfigName="capture-out")[0] == (
        "ValidationException"
    )
    config("capture-in", f"file://{capture}/cap")
    config("capture-s3", "s3://bucket/capture")
    code, message, _ = error_of(
        sm.create_endpoint_config,
        EndpointConfigName="async-out",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "m1",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"file://{outside}/async"}},
    )
    assert code == "ValidationException"
    assert "AsyncInferenceConfig.OutputConfig.S3OutputPath" in message, message

    code, message, _ = error_of(
        sm.create_inference_experiment,
        Name="experiment-out",
        Type="ShadowMode",
        RoleArn=ROLE,
        EndpointName="not-needed-to-refuse",
        ModelVariants=[
            {
                "ModelName": model,
                "VariantName": model,
                "InfrastructureConfig": {
                    "InfrastructureType": "RealTimeInference",
                    "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                },
            }
            for model in ("m1", "m2")
        ],
        ShadowModeConfig={
            "SourceModelVariantName": "m1",
            "ShadowModelVariants": [{"ShadowModelVariantName": "m2", "SamplingPercentage": 50}],
        },
        DataStorageConfig={"Destination": str(outside / "experiment")},
    )
    assert code == "ValidationException"
    assert "DataStorageConfig.Destination" in message and str(outside) in message


def test_inference_component_artifacts_outside_the_roots_are_refused(
    confined: MoorageServer, roots: tuple[Path, Path, Path]
) -> None:
    _, _, outside = roots
    sm = confined.sagemaker
    component_endpoint(sm, "ic-host")
    code, message, _ = error_of(
        sm.create_inference_component,
        InferenceComponentName="ic-out",
        EndpointName="ic-host",
        VariantName="AllTraffic",
        Specification={
            "Container": {"Image": IMAGE, "ArtifactUrl": f"file://{outside}/model.tar.gz"},
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 1,
                "MinMemoryRequiredInMb": 512,
            },
        },
        RuntimeConfig={"CopyCount": 1},
    )
    assert code == "ValidationException"
    assert "Specification.Container.ArtifactUrl" in message and str(outside) in message
    assert error_of(sm.describe_inference_component, InferenceComponentName="ic-out")[0] in (
        "ValidationException",
        "ResourceNotFound",
    )


def test_file_root_must_be_a_directory(tmp_path: Path) -> None:
    done = serve_once(tmp_path / "data", "--file-root", str(tmp_path / "missing"))
    assert_one_line_refusal(done, "--file-root", "not a directory")


def test_sagemaker_program_must_stay_in_code(server: MoorageServer) -> None:
    # Checked with or without file roots: the shared server has none.
    sm = server.sagemaker
    for value in ("/etc/evil.py", "../../evil.py", "code/../../evil.py"):
        code, message, status = error_of(
            sm.create_model,
            ModelName="program-refused",
            PrimaryContainer={"Image": IMAGE, "Environment": {"SAGEMAKER_PROGRAM": value}},
        )
        assert (code, status) == ("ValidationException", 400)
        assert "SAGEMAKER_PROGRAM" in message and "code/ directory" in message
    sm.create_model(
        ModelName="program-in-a-subfolder",
        PrimaryContainer={
            "Image": IMAGE,
            "Environment": {"SAGEMAKER_PROGRAM": "handlers/serve.py"},
        },
    )
    sm.delete_model(ModelName="program-in-a-subfolder")


# -- one server per data dir -----------------------------------------------------


def test_a_second_server_on_the_same_data_dir_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running(data) as first:
        first.sagemaker.create_model(ModelName="kept", PrimaryContainer={"Image": IMAGE})
        assert first.proc is not None
        done = serve_once(data)
        line = assert_one_line_refusal(
            done,
            f"the data dir {data.resolve()} is in use by another moorage server",
            f"(pid {first.proc.pid})",
        )
        assert line.endswith(f"(pid {first.proc.pid})")
        # The first server is untouched and still answers.
        assert first.sagemaker.describe_model(ModelName="kept")["ModelName"] == "kept"
    # Once it has stopped (or died: the kernel drops the lock), the data dir is free again.
    with running(data) as second:
        assert second.sagemaker.describe_model(ModelName="kept")["ModelName"] == "kept"
        second.kill9()
    with running(data) as third:
        assert third.sagemaker.describe_model(ModelName="kept")["ModelName"] == "kept"


# -- the database file removed while running -------------------------------------------


def test_writes_are_refused_once_the_database_file_is_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running(data) as server:
        sm = server.sagemaker
        sm.create_model(ModelName="before", PrimaryContainer={"Image": IMAGE})
        (data / "moorage.db").unlink()
        code, message, status = error_of(
            sm.create_model, ModelName="after", PrimaryContainer={"Image": IMAGE}
        )
        assert (code, status) == ("ServiceUnavailable", 503)
        assert "moorage.db was removed" in message and "restart moorage serve" in message
        arn = sm.describe_model(ModelName="before")["ModelArn"]
        # Every kind of write answers the same way; reads keep answering.
        for call, params in (
            (sm.delete_model, {"ModelName": "before"}),
            (sm.add_tags, {"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "v"}]}),
            (
                sm.create_endpoint_config,
                {
                    "EndpointConfigName": "c",
                    "ProductionVariants": [
                        {
                            "VariantName": "v",
                            "ModelName": "before",
                            "InstanceType": "ml.m5.large",
                            "InitialInstanceCount": 1,
                        }
                    ],
                },
            ),
        ):
            code, _, status = error_of(call, **params)
            assert (code, status) == ("ServiceUnavailable", 503)
        cloudwatch = server.client("cloudwatch")
        code, message, status = error_of(
            cloudwatch.put_metric_alarm,
            AlarmName="a",
            MetricName="Invocations",
            Namespace="AWS/SageMaker",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
        assert status == 503 and "was removed" in message
        assert sm.describe_model(ModelName="before")["ModelName"] == "before"
        assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["before"]
        assert error_of(sm.describe_model, ModelName="after")[0] == "ValidationException"
        server.stop()
        logged = [line for line in server.output if "was removed while the server" in line]
        assert len(logged) == 1, logged
        assert not any("Traceback" in line for line in server.output)


# -- a damaged database at start -------------------------------------------------------


def _stopped_data_dir(tmp_path: Path) -> Path:
    """A data dir with a few resources, its server stopped cleanly."""
    data = tmp_path / "data"
    with running(data) as server:
        for index in range(40):
            server.sagemaker.create_model(
                ModelName=f"model-{index}",
                PrimaryContainer={"Image": IMAGE, "Environment": {"PAD": "x" * 1000}},
            )
    return data


def _garbage(db: Path) -> None:
    db.write_bytes(b"\x00garbage, not SQLite\n" * 4096)


def _truncated(db: Path) -> None:
    with db.open("r+b") as handle:
        handle.truncate(db.stat().st_size // 2)


def _emptied(db: Path) -> None:
    db.write_bytes(b"")


def _newer(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (_garbage, ("damaged or not a database", "restore it from a backup")),
        (_truncated, ("damaged", "restore it from a backup")),
        (_emptied, ("is empty", "restore it from a backup")),
        (_newer, ("written by a newer moorage", "schema version 999", "upgrade moorage")),
    ],
    ids=["garbage", "truncated", "emptied", "newer-schema"],
)
def test_a_damaged_database_stops_the_start_with_one_line(
    tmp_path: Path, damage: Any, fragments: tuple[str, ...]
) -> None:
    data = _stopped_data_dir(tmp_path)
    db = data / "moorage.db"
    damage(db)
    before = db.read_bytes()
    done = serve_once(data)
    assert_one_line_refusal(done, str(db.resolve()), *fragments)
    # The file is left as it was, for the user to restore or inspect.
    assert db.read_bytes() == before
