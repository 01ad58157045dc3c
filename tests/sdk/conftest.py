"""Fixtures for the SageMaker Python SDK tests: one server per module, an SDK session.

Each test module gets its own ``moorage serve`` (model data and capture files
in moto's S3, captures flushed every second) and an SDK session pointed at
it the way docs/sagemaker-sdk.md tells users to: an AWS profile written by
``moorage credentials --write-profile``, ``AWS_ENDPOINT_URL_S3`` for S3, an
explicit default bucket and role. The variables are set for the module only.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from support.moto_s3 import MotoS3, moto_s3
from support.sagemaker_sdk import PROFILE, QuickSession, SdkEnv, write_profile
from support.server import running

__all__ = ["moto_s3"]


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[SdkEnv]:
    work = tmp_path_factory.mktemp("sdk")
    server_env = {**moto_s3.env(), "PIP_NO_INDEX": "1"}
    with (
        running(
            work / "data", env=server_env, extra_args=("--capture-flush-interval", "1")
        ) as server,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in write_profile(server, work / "aws").items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL_S3", moto_s3.endpoint_url)
        patch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # v2 classes warn when made
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.delenv(name, raising=False)
        bucket = moto_s3.new_bucket("sdk")
        boto_session = boto3.Session(profile_name=PROFILE)
        session = QuickSession(boto_session=boto_session, default_bucket=bucket)
        yield SdkEnv(server, moto_s3, bucket, boto_session, session, work)
