"""State survives a restart; the AWS CLI and the moorage CLI work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from support.server import BIN, MoorageServer, running


def test_restart_keeps_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running(data) as first:
        sm = first.sagemaker
        sm.create_model(
            ModelName="Durable",
            PrimaryContainer={"Image": "img"},
            Tags=[{"Key": "a", "Value": "b"}],
        )
        sm.create_endpoint_config(
            EndpointConfigName="durable-config",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "Durable",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        created = sm.describe_model(ModelName="Durable")["CreationTime"]
        # SIGKILL: nothing may depend on a clean shutdown to be durable.
        first.kill9()
    with running(data) as second:
        sm = second.sagemaker
        model = sm.describe_model(ModelName="Durable")
        assert model["CreationTime"] == created
        assert sm.list_tags(ResourceArn=model["ModelArn"])["Tags"] == [{"Key": "a", "Value": "b"}]
        config = sm.describe_endpoint_config(EndpointConfigName="durable-config")
        assert config["ProductionVariants"][0]["ModelName"] == "Durable"


def test_sigint_and_sigterm_stop_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        server = MoorageServer(tmp_path / f"data-{sig}").start()
        assert server.stop(sig) == 0


def test_aws_cli(server: MoorageServer) -> None:
    server.sagemaker.create_model(ModelName="cli-visible", PrimaryContainer={"Image": "img"})
    env = {**os.environ, **server.aws_env()}
    out = subprocess.run(
        [
            str(BIN / "aws"),
            "--endpoint-url",
            server.url,
            "sagemaker",
            "list-models",
            "--name-contains",
            "cli-visible",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    models = json.loads(out.stdout)["Models"]
    assert [m["ModelName"] for m in models] == ["cli-visible"]


def test_serve_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "moorage", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--host", "--port", "--data-dir", "--region", "--account-id"):
        assert option in out.stdout


def test_region_and_account_shape_arns(tmp_path: Path) -> None:
    with running(
        tmp_path / "d", extra_args=("--region", "eu-west-1", "--account-id", "111122223333")
    ) as srv:
        arn = srv.sagemaker.create_model(ModelName="Arned", PrimaryContainer={"Image": "img"})[
            "ModelArn"
        ]
        assert arn == "arn:aws:sagemaker:eu-west-1:111122223333:model/arned"
