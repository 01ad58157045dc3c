"""The real SageMaker Python SDK (v2) pointed at a moorage server and moto's S3.

How a user points the SDK at moorage (docs/sagemaker-sdk.md), done for tests:
``moorage credentials --write-profile NAME`` writes an AWS profile whose
``services`` section sends SageMaker, SageMaker Runtime, CloudWatch and Logs
to the server; ``AWS_ENDPOINT_URL_S3`` sends S3 to moto; the session gets a
``default_bucket`` (the SDK cannot ask STS for the account to name its own)
and models get an explicit role ARN (no ``get_execution_role()``).

:class:`QuickSession` is the SDK's ``Session`` with one change: its waits
poll DescribeEndpoint (DescribeInferenceComponent) every second instead of
every 30 (20) seconds, the SDK's defaults, which would make each deploy last
at least that long. Everything else —
CreateModel, CreateEndpointConfig, CreateEndpoint, the waits' logic, S3
uploads, repacking, InvokeEndpoint — is the SDK's own code.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import sagemaker

from support.moto_s3 import MotoS3
from support.names import unique
from support.server import MoorageServer

BIN = Path(sys.executable).parent
ROLE = "arn:aws:iam::123456789012:role/moorage-sdk-tests"
INSTANCE_TYPE = "ml.m5.large"
PROFILE = "moorage-sdk-tests"
T = TypeVar("T")


class QuickSession(sagemaker.Session):
    """``sagemaker.Session`` whose endpoint waits poll every second (see the module)."""

    def wait_for_endpoint(
        self, endpoint: str, poll: int = 1, live_logging: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = super().wait_for_endpoint(endpoint, poll, live_logging)
        return result

    def wait_for_inference_component(
        self, inference_component_name: str, poll: int = 1
    ) -> dict[str, Any]:
        result: dict[str, Any] = super().wait_for_inference_component(
            inference_component_name, poll
        )
        return result

    def wait_for_inference_component_deletion(
        self, inference_component_name: str, poll: int = 1
    ) -> dict[str, Any]:
        result: dict[str, Any] = super().wait_for_inference_component_deletion(
            inference_component_name, poll
        )
        return result


@dataclass
class SdkEnv:
    """One moorage server, its S3 (moto), a bucket and an SDK session for them."""

    server: MoorageServer
    s3: MotoS3
    bucket: str
    boto_session: boto3.Session
    session: QuickSession
    work: Path

    @property
    def sagemaker(self) -> Any:
        """A boto3 SageMaker client from the same profile the SDK uses."""
        return self.boto_session.client("sagemaker")

    def upload(self, key: str, data: bytes) -> str:
        self.s3.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def keys(self, prefix: str) -> list[str]:
        reply = self.s3.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in reply.get("Contents", [])]


def write_profile(server: MoorageServer, folder: Path) -> dict[str, str]:
    """Run ``moorage credentials --write-profile``; the variables that select its files."""
    files = {
        "AWS_CONFIG_FILE": str(folder / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
    }
    subprocess.run(
        [
            str(BIN / "moorage"),
            "credentials",
            "--data-dir",
            str(server.data_dir),
            "--url",
            server.url,
            "--write-profile",
            PROFILE,
        ],
        env={**os.environ, **files},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return files


def sklearn_model_archive(slope: float = 2.0, stale_script: str | None = None) -> bytes:
    """``model.tar.gz``: a fitted scikit-learn ``LinearRegression`` (y = slope * x).

    ``stale_script``, if given, goes in as ``code/serve.py``: an older copy of
    the entry point that a server ignoring ``SAGEMAKER_SUBMIT_DIRECTORY``
    would run instead of the code the SDK uploaded.
    """
    import numpy as np
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([0.0, slope]))
    files = {"model.pkl": pickle.dumps(model)}
    if stale_script is not None:
        files["code/serve.py"] = textwrap.dedent(stale_script).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_source_dir(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    """A ``source_dir`` for a framework model: ``files`` (name -> content) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return folder


# An entry point for the scikit-learn model above: it names its version and
# imports a sibling module, as entry points with a source_dir do.
SERVE_PY = """
    import os
    import pickle

    import helper

    VERSION = "{version}"


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "model.pkl"), "rb") as handle:
            return pickle.load(handle)


    def predict_fn(data, model):
        return {{
            "version": VERSION,
            "helper": helper.NAME,
            "prediction": model.predict(data).tolist(),
            "region": os.environ.get("AWS_REGION"),
        }}
"""
HELPER_PY = """
    NAME = "helper-{version}"
"""


def sklearn_source(folder: Path, version: str, **extra: str | bytes) -> Path:
    """A source_dir with ``serve.py`` and ``helper.py`` answering ``version``."""
    files: dict[str, str | bytes] = {
        "serve.py": SERVE_PY.format(version=version),
        "helper.py": HELPER_PY.format(version=version),
    }
    files.update(extra)
    return write_source_dir(folder, files)


def eventually(check: Callable[[], T | None], *, timeout: float = 60.0, every: float = 0.5) -> T:
    """Call ``check`` until it returns something other than None (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout:g} s")
        time.sleep(every)


def captured_lines(env: SdkEnv, prefix: str) -> Iterator[str]:
    """Every JSON line of the capture files under ``prefix`` in the bucket."""
    for key in env.keys(prefix):
        body = env.s3.client.get_object(Bucket=env.bucket, Key=key)["Body"].read()
        yield from (line for line in body.decode().splitlines() if line.strip())


# An older entry point inside model.tar.gz (code/serve.py): answering with it
# would mean the code the SDK uploaded was ignored.
STALE_SCRIPT = """
    def model_fn(model_dir):
        return None


    def predict_fn(data, model):
        return {"version": "stale"}
"""
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"


def sklearn_model(env: SdkEnv, source: Path, **kwargs: Any) -> Any:
    """An ``SKLearnModel`` of a fresh model.tar.gz (holding a stale code/serve.py)."""
    from sagemaker.sklearn import SKLearnModel

    url = env.upload(f"{unique('models')}/model.tar.gz", sklearn_model_archive(2.0, STALE_SCRIPT))
    return SKLearnModel(
        model_data=url,
        role=ROLE,
        entry_point="serve.py",
        source_dir=str(source),
        framework_version="1.2-1",
        sagemaker_session=env.session,
        **kwargs,
    )


def deploy(model: Any, **kwargs: Any) -> Any:
    """``model.deploy`` on one instance; CSV in, JSON out unless ``kwargs`` say otherwise."""
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.serializers import CSVSerializer

    options: dict[str, Any] = {
        "initial_instance_count": 1,
        "instance_type": INSTANCE_TYPE,
        "serializer": CSVSerializer(),
        "deserializer": JSONDeserializer(),
        **kwargs,
    }
    predictor = model.deploy(**options)
    assert predictor is not None
    return predictor
