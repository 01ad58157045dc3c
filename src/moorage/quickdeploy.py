"""``moorage serve --deploy NAME=ARTIFACT``: serve a model with one flag.

Creates (if absent) a model, an endpoint config and an endpoint named NAME
for the artifact, through the same validated operations a boto3 client
would call, so the endpoint is an ordinary SageMaker endpoint afterwards.
"""

from __future__ import annotations

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


def how_to_invoke(url: str, name: str, data_dir: Path) -> str:
    return (
        f"endpoint {name!r} is deploying; once InService, invoke it with the server's key:\n"
        f'  eval "$(moorage credentials --data-dir {data_dir})"\n'
        f"  aws --endpoint-url {url} sagemaker-runtime invoke-endpoint --endpoint-name {name} "
        "--content-type application/json --body '[[5.1, 3.5, 1.4, 0.2]]' "
        "--cli-binary-format raw-in-base64-out /dev/stdout\n"
        "or from Python (same environment): boto3.client('sagemaker-runtime', endpoint_url="
        f"'{url}').invoke_endpoint(EndpointName='{name}', ContentType='application/json', "
        "Body='[[5.1, 3.5, 1.4, 0.2]]')"
    )
