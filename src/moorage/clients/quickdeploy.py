"""``moorage serve --deploy NAME=ARTIFACT``: serve a model with one flag.

Creates (if absent) a model, an endpoint config and an endpoint named NAME
for the artifact, through the same validated operations a boto3 client
would call, so the endpoint is an ordinary SageMaker endpoint afterwards.
"""

from __future__ import annotations

import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from moorage.api.json_protocol import JsonService
from moorage.errors import ServiceError

DEFAULT_IMAGE = "moorage/python-model-server:latest"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


@dataclass(frozen=True)
class QuickDeploy:
    name: str
    artifact: str

    @classmethod
    def parse(cls, text: str) -> QuickDeploy:
        name, sep, artifact = text.partition("=")
        if not sep or not name or not artifact:
            raise ValueError(f"expected NAME=ARTIFACT, got {text!r}")
        if "://" not in artifact:
            artifact = Path(artifact).expanduser().resolve().as_uri()
        return cls(name, artifact)


async def deploy(service: JsonService, item: QuickDeploy) -> bool:
    """Create what is missing; True if the endpoint was created now."""
    try:
        await service.call("DescribeEndpoint", {"EndpointName": item.name})
        return False
    except ServiceError:
        pass
    try:
        await service.call("DescribeModel", {"ModelName": item.name})
    except ServiceError:
        await service.call(
            "CreateModel",
            {
                "ModelName": item.name,
                "PrimaryContainer": {"Image": DEFAULT_IMAGE, "ModelDataUrl": item.artifact},
            },
        )
    try:
        await service.call("DescribeEndpointConfig", {"EndpointConfigName": item.name})
    except ServiceError:
        await service.call(
            "CreateEndpointConfig",
            {
                "EndpointConfigName": item.name,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": item.name,
                        "InstanceType": DEFAULT_INSTANCE_TYPE,
                        "InitialInstanceCount": 1,
                    }
                ],
            },
        )
    await service.call(
        "CreateEndpoint", {"EndpointName": item.name, "EndpointConfigName": item.name}
    )
    return True


# Files beside a local artifact that hold a request for it, and their content types.
SAMPLE_INPUTS = (("input.json", "application/json"), ("input.csv", "text/csv"))


def sample_input(artifact: str) -> tuple[Path, str] | None:
    """A request for the model: ``input.json`` or ``input.csv`` beside a local artifact."""
    if not artifact.startswith("file://"):
        return None
    folder = Path(urllib.parse.unquote(urllib.parse.urlsplit(artifact).path)).parent
    for name, content_type in SAMPLE_INPUTS:
        if (folder / name).is_file():
            return folder / name, content_type
    return None


def runnable(name: str) -> str:
    """``name`` as this shell can run it: bare if on PATH, else beside this Python."""
    beside = Path(sys.executable).parent / name
    if shutil.which(name) is None and beside.exists():
        return str(beside)
    return name


def how_to_invoke(url: str, item: QuickDeploy, data_dir: Path) -> str:
    """What ``moorage serve`` prints after ``--deploy``: how to wait for and invoke the endpoint.

    The request is the artifact's sample (:func:`sample_input`) when it has
    one, placeholders otherwise; ``fileb://`` works with the AWS CLI v1 and v2.
    """
    moorage = runnable("moorage")
    sample = sample_input(item.artifact)
    body, content_type = (str(sample[0]), sample[1]) if sample else ("INPUT_FILE", "CONTENT_TYPE")
    lines = [
        f"endpoint {item.name!r} is deploying; {moorage} wait {item.name} --url {url} "
        f"--data-dir {data_dir} returns once it is InService. Then, with the server's key:",
        f'  eval "$({moorage} credentials --data-dir {data_dir})"',
        f"  aws --endpoint-url {url} sagemaker-runtime invoke-endpoint "
        f"--endpoint-name {item.name} --content-type {content_type} --body fileb://{body} "
        "/dev/stdout",
        "or from Python (the same environment variables):",
        f"  {sys.executable} -c \"import boto3; print(boto3.client('sagemaker-runtime', "
        f"endpoint_url='{url}').invoke_endpoint(EndpointName='{item.name}', "
        f"ContentType='{content_type}', Body=open('{body}', 'rb').read())['Body'].read())\"",
    ]
    if sample is None:
        lines.append(
            "(INPUT_FILE: a request your model's input_fn accepts, of CONTENT_TYPE; put it "
            "beside the artifact as input.json or input.csv and this hint shows it)"
        )
    return "\n".join(lines)
