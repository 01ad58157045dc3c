"""What goes wrong, and how it is reported: Failed endpoints, ModelError, bad requests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import failing_model_archive, write_archive, write_tar_slip
from support.endpoints import create_endpoint, create_model, delete, deploy, variant, wait_status
from support.moto_s3 import MotoS3
from support.names import unique
from support.server import MoorageServer


def _deploy_failing(sm: Any, url: str) -> dict[str, Any]:
    name = unique("failing")
    create_model(sm, name, url)
    create_endpoint(sm, name, [variant("AllTraffic", name)])
    described = wait_status(sm, name, "Failed")
    delete(sm, name)
    return described


def test_corrupt_archive_fails_the_endpoint(esm: Any, tmp_path: Path) -> None:
    corrupt = tmp_path / "model.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00this is not gzip at all")
    reason = _deploy_failing(esm, corrupt.as_uri())["FailureReason"]
    assert "model.tar.gz" in reason
    assert "corrupt" in reason.lower() or "not a" in reason.lower(), reason


def test_tar_slip_archive_is_rejected(esm: Any, tmp_path: Path) -> None:
    archive = write_tar_slip(tmp_path / "slip" / "model.tar.gz")
    reason = _deploy_failing(esm, archive.as_uri())["FailureReason"]
    assert "escaped.txt" in reason, reason
    assert not (tmp_path / "escaped.txt").exists()


def test_missing_s3_object_fails_the_endpoint(esm: Any, moto_s3: MotoS3, s3_bucket: str) -> None:
    url = moto_s3.url(s3_bucket, "nothing/here.tar.gz")
    reason = _deploy_failing(esm, url)["FailureReason"]
    assert url in reason, reason


def test_model_fn_raising_fails_the_endpoint(esm: Any, tmp_path: Path) -> None:
    archive = failing_model_archive(tmp_path / "model.tar.gz")
    reason = _deploy_failing(esm, archive.as_uri())["FailureReason"]
    assert "weights are corrupt" in reason, reason


def test_bad_requirements_fail_with_pip_error(esm: Any, tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "model.tar.gz",
        {
            "code/inference.py": "def model_fn(model_dir):\n    return None\n",
            "code/requirements.txt": "./no-such-local-package-dir\n",
        },
    )
    reason = _deploy_failing(esm, archive.as_uri())["FailureReason"]
    assert "requirements" in reason.lower() or "pip" in reason.lower(), reason


def test_failed_endpoint_accepts_only_delete(esm: Any, runtime: Any, tmp_path: Path) -> None:
    name = unique("failed")
    create_model(esm, name, failing_model_archive(tmp_path / "m.tar.gz").as_uri())
    create_endpoint(esm, name, [variant("AllTraffic", name)])
    wait_status(esm, name, "Failed")
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body="{}")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Failed" in caught.value.response["Error"]["Message"]
    delete(esm, name)


def test_model_error_carries_the_original_answer(
    serving: MoorageServer, esm: Any, runtime: Any, toolbox_url: str
) -> None:
    name = unique("modelerror")
    deploy(esm, name, toolbox_url)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body='{"op": "fail"}'
        )
    response = caught.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 500
    assert "the toolbox failed on purpose" in response["OriginalMessage"]
    assert f"/aws/sagemaker/Endpoints/{name}" in response["LogStreamArn"]
    # The copy's output reaches its log stream's file moments after it is printed.
    deadline = time.monotonic() + 30
    while True:
        logs = list((serving.data_dir / "logs" / name).glob("*.log"))
        if logs and "the toolbox failed on purpose" in "".join(p.read_text() for p in logs):
            break
        assert time.monotonic() < deadline, f"the traceback is not in {logs}"
        time.sleep(0.1)
    delete(esm, name)


def test_unknown_endpoint(runtime: Any) -> None:
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"{}")
    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint no-such-endpoint of account 123456789012 not found.",
    }


def test_payload_over_six_megabytes_is_refused(esm: Any, runtime: Any, toolbox_url: str) -> None:
    name = unique("big")
    deploy(esm, name, toolbox_url)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=b" " * (6 * 1024 * 1024 + 1)
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    at_limit = runtime.invoke_endpoint(
        EndpointName=name,
        ContentType="application/json",
        Body=b'{"op": "echo"}' + b" " * (6 * 1024 * 1024 - 14),
    )
    assert at_limit["ResponseMetadata"]["HTTPStatusCode"] == 200
    delete(esm, name)


def test_invoking_while_creating_is_refused(esm: Any, runtime: Any, tmp_path: Path) -> None:
    slow = write_archive(
        tmp_path / "slow.tar.gz",
        {"code/inference.py": "import time\n\ndef model_fn(d):\n    time.sleep(4)\n    return 1\n"},
    )
    name = unique("creating")
    create_model(esm, name, slow.as_uri())
    create_endpoint(esm, name, [variant("AllTraffic", name)])
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body="{}")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Creating" in caught.value.response["Error"]["Message"]
    wait_status(esm, name, "InService")
    delete(esm, name)
