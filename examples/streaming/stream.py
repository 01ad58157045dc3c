"""Deploy the streaming example and print its tokens as they arrive.

Start the server first (``make serve`` or ``.venv/bin/moorage serve``), then:

    .venv/bin/python examples/streaming/build.py    # writes examples/streaming/build/model.tar.gz
    eval "$(.venv/bin/moorage credentials)"         # the server's key, for boto3
    .venv/bin/python examples/streaming/stream.py "the tide"

It creates the model, endpoint config and endpoint ``streaming-example``
(removing what an earlier run left), waits for it, calls
InvokeEndpointWithResponseStream and prints each PayloadPart the moment it
arrives (the model sleeps ``--delay`` seconds between tokens, so you can see
them come one by one), then deletes what it created (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
ARTIFACT = HERE / "build" / "model.tar.gz"
URL = os.environ.get("MOORAGE_URL", "http://127.0.0.1:8484")
NAME = "streaming-example"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def _missing(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", ""))
    return "Could not find" in message


def remove(sm: Any) -> None:
    """Delete the endpoint, config and model of an earlier run, if there are any."""
    try:
        sm.delete_endpoint(EndpointName=NAME)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=NAME, WaiterConfig={"Delay": 1})
    except ClientError as exc:
        if not _missing(exc):
            raise
    for call, key in (
        (sm.delete_endpoint_config, "EndpointConfigName"),
        (sm.delete_model, "ModelName"),
    ):
        try:
            call(**{key: NAME})
        except ClientError as exc:
            if not _missing(exc):
                raise


def deploy(sm: Any) -> None:
    sm.create_model(
        ModelName=NAME,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": ARTIFACT.as_uri()},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=NAME,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": NAME,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=NAME, EndpointConfigName=NAME)
    # A short delay between checks: the default (30 s) would wait far longer than the start.
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=NAME, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )


def stream(runtime: Any, prompt: str, tokens: int, delay: float) -> str:
    reply = runtime.invoke_endpoint_with_response_stream(
        EndpointName=NAME,
        ContentType="application/json",
        Body=json.dumps({"prompt": prompt, "max_tokens": tokens, "delay": delay}),
    )
    text = []
    for event in reply["Body"]:
        if "PayloadPart" in event:
            token = event["PayloadPart"]["Bytes"].decode()
            text.append(token)
            print(token, end="", flush=True)
        elif "ModelStreamError" in event:
            raise SystemExit(f"\nthe model failed: {event['ModelStreamError']}")
    print()
    return "".join(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="?", default="the tide")
    parser.add_argument("--tokens", type=int, default=80, help="how many tokens to generate")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between tokens")
    parser.add_argument("--keep", action="store_true", help="leave the endpoint running")
    args = parser.parse_args()
    if not ARTIFACT.exists():
        print(f"build the model first: {sys.executable} {HERE / 'build.py'}")
        return 1
    session = boto3.Session()
    sm = session.client("sagemaker", endpoint_url=URL)
    runtime = session.client("sagemaker-runtime", endpoint_url=URL)
    remove(sm)
    started = time.monotonic()
    deploy(sm)
    print(f"{NAME} is InService after {time.monotonic() - started:.1f} s; streaming:")
    print(args.prompt, end="", flush=True)
    stream(runtime, args.prompt, args.tokens, args.delay)
    if not args.keep:
        remove(sm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
