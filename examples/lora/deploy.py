"""Serve a base model and a LoRA adapter as inference components, then invoke both.

Start the server first (``make serve`` or ``.venv/bin/moorage serve``), then:

    .venv/bin/python examples/lora/build.py    # writes examples/lora/build/{base,adapter}.tar.gz
    eval "$(.venv/bin/moorage credentials)"    # the server's key, for boto3
    .venv/bin/python examples/lora/deploy.py

It removes what an earlier run left first, and deletes what it created at
the end (``--keep`` leaves it running), so it can be run again.

The endpoint's variant names no model: it is capacity (one ml.m5.xlarge) for
inference components. The base component runs two copies of the base model;
the adapter component names the base (``BaseInferenceComponentName``) and
its artifacts, and is loaded into every copy of the base. Invoking the
adapter component reaches a base copy with the adapter applied.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build import expected  # noqa: E402

URL = os.environ.get("MOORAGE_URL", "http://127.0.0.1:8484")
NAME = "lora-example"
BUILD = HERE / "build"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
# The server's key, as `eval "$(moorage credentials)"` exports it (or AWS_PROFILE
# after `moorage credentials --write-profile moorage`): boto3's usual lookup.
SESSION = boto3.Session()
INPUTS = [1.0, 2.0, 3.0, 4.0]


def wait(sm: Any, name: str) -> None:
    while True:
        described = sm.describe_inference_component(InferenceComponentName=name)
        status = described["InferenceComponentStatus"]
        if status == "InService":
            return
        if status == "Failed":
            raise SystemExit(f"{name} failed: {described['FailureReason']}")
        time.sleep(0.5)


def _missing(error: ClientError) -> bool:
    return "Could not find" in str(error.response.get("Error", {}).get("Message", ""))


def _gone(sm: Any, component: str) -> None:
    while True:
        try:
            sm.describe_inference_component(InferenceComponentName=component)
        except ClientError as exc:
            if _missing(exc):
                return
            raise
        time.sleep(0.5)


def remove(sm: Any) -> None:
    """Delete the components, endpoint and config of an earlier run, if there are any."""
    for component in ("lora-adapter", "lora-base"):  # the adapter before its base
        try:
            sm.delete_inference_component(InferenceComponentName=component)
        except ClientError as exc:
            if not _missing(exc):
                raise
        _gone(sm, component)
    try:
        sm.delete_endpoint(EndpointName=NAME)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=NAME, WaiterConfig={"Delay": 1})
    except ClientError as exc:
        if not _missing(exc):
            raise
    try:
        sm.delete_endpoint_config(EndpointConfigName=NAME)
    except ClientError as exc:
        if not _missing(exc):
            raise


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    if not (BUILD / "base.tar.gz").exists():
        print(f"build the archives first: {sys.executable} {HERE / 'build.py'}")
        return 1
    sm = SESSION.client("sagemaker", endpoint_url=URL)
    runtime = SESSION.client("sagemaker-runtime", endpoint_url=URL)
    name = NAME
    remove(sm)

    sm.create_endpoint_config(
        EndpointConfigName=name,
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 1})
    sm.create_inference_component(
        InferenceComponentName="lora-base",
        EndpointName=name,
        VariantName="AllTraffic",
        Specification={
            "Container": {"Image": IMAGE, "ArtifactUrl": (BUILD / "base.tar.gz").as_uri()},
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 1,
                "MinMemoryRequiredInMb": 1024,
            },
        },
        RuntimeConfig={"CopyCount": 2},
    )
    wait(sm, "lora-base")
    sm.create_inference_component(
        InferenceComponentName="lora-adapter",
        EndpointName=name,
        Specification={
            "BaseInferenceComponentName": "lora-base",
            "Container": {"ArtifactUrl": (BUILD / "adapter.tar.gz").as_uri()},
        },
    )
    wait(sm, "lora-adapter")

    for component, adapted in (("lora-base", False), ("lora-adapter", True)):
        reply = runtime.invoke_endpoint(
            EndpointName=name,
            InferenceComponentName=component,
            ContentType="application/json",
            Body=json.dumps({"inputs": INPUTS}),
        )
        answer = json.loads(reply["Body"].read())
        print(f"{component}: {answer['outputs']} (expected {expected(INPUTS, adapted)})")
    if keep:
        print(f"kept: lora-adapter, lora-base and the endpoint {name} (delete them in that order)")
    else:
        remove(sm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
