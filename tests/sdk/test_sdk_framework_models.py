"""Framework models deployed with the SageMaker Python SDK: entry_point and source_dir.

``SKLearnModel`` uploads ``sourcedir.tar.gz`` beside the model and points
``SAGEMAKER_SUBMIT_DIRECTORY`` at it; ``PyTorchModel`` repacks the code into
``model.tar.gz`` and points the variable at ``/opt/ml/model/code``. Both must
run the entry point the SDK was given, never an older copy that happens to
sit in the model archive, and a code location that cannot be fetched must
fail the endpoint with a reason that says so.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile

import pytest
import sagemaker.session
from sagemaker.exceptions import UnexpectedStatusException
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.pytorch import PyTorchModel
from sagemaker.serializers import JSONSerializer

from support.names import unique
from support.sagemaker_sdk import (
    INSTANCE_TYPE,
    ROLE,
    SKLEARN_IMAGE,
    STALE_SCRIPT,
    SdkEnv,
    deploy,
    sklearn_model,
    sklearn_model_archive,
    sklearn_source,
    write_source_dir,
)
from support.wheels import WHEEL_NAME, tiny_wheel


def _remove(predictor: Predictor) -> None:
    predictor.delete_endpoint(delete_endpoint_config=True)


def test_sklearn_model_runs_the_uploaded_entry_point(sdk: SdkEnv) -> None:
    source = sklearn_source(
        sdk.work / unique("src"),
        "v1",
        **{
            "helper.py": "import tinydep\nNAME = f'helper-{tinydep.VALUE}'\n",
            "requirements.txt": f"./{WHEEL_NAME}\n",
            WHEEL_NAME: tiny_wheel(7),
        },
    )
    model = sklearn_model(sdk, source)
    predictor = deploy(model)
    try:
        answer = predictor.predict([[3.0], [0.5]])
        # The uploaded code (not code/serve.py of the archive), its sibling
        # module, its requirements.txt installed, the SDK's region.
        assert answer["version"] == "v1"
        assert answer["helper"] == "helper-7"
        assert answer["prediction"] == pytest.approx([6.0, 1.0])
        assert answer["region"] == sdk.session.boto_region_name
        environment = sdk.sagemaker.describe_model(ModelName=model.name)["PrimaryContainer"][
            "Environment"
        ]
        # The SDK did not repack: the code is a sourcedir.tar.gz of its own.
        assert environment["SAGEMAKER_PROGRAM"] == "serve.py"
        assert environment["SAGEMAKER_SUBMIT_DIRECTORY"].startswith(f"s3://{sdk.bucket}/")
        assert environment["SAGEMAKER_SUBMIT_DIRECTORY"].endswith("/sourcedir.tar.gz")
    finally:
        _remove(predictor)


def test_a_changed_entry_point_is_served_by_the_next_deploy(sdk: SdkEnv) -> None:
    # The same model name makes the SDK upload the new sourcedir.tar.gz to the
    # same key and reuse the model: only the object's content changes.
    name = unique("sdk-same-name")
    source = sdk.work / unique("src")
    first = deploy(sklearn_model(sdk, sklearn_source(source, "v1"), name=name))
    try:
        assert first.predict([[1.0]])["version"] == "v1"
        second = deploy(sklearn_model(sdk, sklearn_source(source, "v2"), name=name))
        try:
            answer = second.predict([[1.0]])
            assert (answer["version"], answer["helper"]) == ("v2", "helper-v2")
            # The first endpoint's copies keep the code they started with.
            assert first.predict([[1.0]])["version"] == "v1"
        finally:
            _remove(second)
    finally:
        _remove(first)


def test_unfetchable_code_location_fails_the_endpoint(sdk: SdkEnv) -> None:
    missing = f"s3://{sdk.bucket}/{unique('nowhere')}/sourcedir.tar.gz"
    url = sdk.upload(f"{unique('models')}/model.tar.gz", sklearn_model_archive(2.0, STALE_SCRIPT))
    model = Model(
        image_uri=SKLEARN_IMAGE,
        model_data=url,
        role=ROLE,
        env={"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": missing},
        sagemaker_session=sdk.session,
    )
    name = unique("sdk-missing-code")
    with pytest.raises(UnexpectedStatusException) as failure:
        model.deploy(initial_instance_count=1, instance_type=INSTANCE_TYPE, endpoint_name=name)
    try:
        reason = sdk.sagemaker.describe_endpoint(EndpointName=name)["FailureReason"]
        assert "SAGEMAKER_SUBMIT_DIRECTORY" in reason
        assert missing in reason
        assert reason in str(failure.value)
    finally:
        sdk.session.delete_endpoint(name)


def test_pytorch_model_repacks_the_code_into_the_model(sdk: SdkEnv) -> None:
    archive = sdk.upload(f"{unique('models')}/model.tar.gz", _weights_archive(3.0))
    source = write_source_dir(
        sdk.work / unique("src"),
        {
            "inference.py": """
                import json
                import os


                def model_fn(model_dir):
                    with open(os.path.join(model_dir, "weights.json")) as handle:
                        return json.load(handle)


                def predict_fn(data, model):
                    return {"scaled": [model["scale"] * x for x in data["inputs"]]}
            """,
        },
    )
    model = PyTorchModel(
        model_data=archive,
        role=ROLE,
        entry_point="inference.py",
        source_dir=str(source),
        framework_version="2.1",
        py_version="py310",
        sagemaker_session=sdk.session,
    )
    predictor = deploy(model, serializer=JSONSerializer())
    try:
        assert predictor.predict({"inputs": [1.0, 2.0]}) == {"scaled": [3.0, 6.0]}
        container = sdk.sagemaker.describe_model(ModelName=model.name)["PrimaryContainer"]
        assert "pytorch-inference" in container["Image"]
        assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
        assert container["ModelDataUrl"] != archive  # repacked with code/ inside
    finally:
        _remove(predictor)


def _weights_archive(scale: float) -> bytes:
    data = json.dumps({"scale": scale}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("weights.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_deploy_with_endpoint_logging_shows_the_model_servers_output(
    sdk: SdkEnv, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # deploy(endpoint_logging=True) polls FilterLogEvents on the endpoint's log
    # group every EP_LOGGER_POLL (10) seconds, whatever the session's poll is.
    monkeypatch.setattr(sagemaker.session, "EP_LOGGER_POLL", 1)
    # The SDK shows only events of pages that have a nextToken (10 events a
    # page): the model prints enough lines for a few full pages.
    chatty = {"helper.py": "for n in range(30):\n    print(f'line {n}', flush=True)\nNAME = 'h'\n"}
    model = sklearn_model(sdk, sklearn_source(sdk.work / unique("src"), "logged", **chatty))
    with caplog.at_level(logging.INFO, logger="sagemaker"):
        predictor = deploy(model, endpoint_logging=True)
    try:
        assert predictor.predict([[1.0]])["version"] == "logged"
        printed = [r.getMessage() for r in caplog.records if r.name.startswith("sagemaker")]
        # What the copy printed, as the SDK shows CloudWatch Logs events.
        assert any(m.startswith("moorage model server listening on") for m in printed), printed
        assert {"line 0", "line 1", "line 9"} <= set(printed), printed
    finally:
        _remove(predictor)
