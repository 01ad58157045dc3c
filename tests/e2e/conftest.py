"""End-to-end fixtures: one moorage server that reads model data from moto's S3."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.archives import toolbox_archive
from support.moto_s3 import MotoS3, moto_s3, s3_bucket
from support.server import MoorageServer, running

__all__ = ["moto_s3", "s3_bucket"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def serving(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[MoorageServer]:
    with running(tmp_path_factory.mktemp("e2e-data"), env=moto_s3.env()) as srv:
        yield srv


@pytest.fixture
def esm(serving: MoorageServer) -> Any:
    return serving.sagemaker


@pytest.fixture
def runtime(serving: MoorageServer) -> Any:
    return serving.client("sagemaker-runtime")


@pytest.fixture(scope="session")
def toolbox_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return toolbox_archive(tmp_path_factory.mktemp("toolbox") / "model.tar.gz").as_uri()


@pytest.fixture(scope="session")
def iris_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("iris")
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sklearn" / "build.py"), str(out)], check=True
    )
    return (out / "model.tar.gz").as_uri()


@pytest.fixture(scope="session")
def streaming_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("streaming")
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "streaming" / "build.py"), str(out)], check=True
    )
    return (out / "model.tar.gz").as_uri()
