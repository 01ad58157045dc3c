"""Deploy the example scikit-learn model with plain boto3 and invoke it.

Start the server first (``make serve`` or ``.venv/bin/moorage serve``), then:

    .venv/bin/python examples/sklearn/build.py   # writes examples/sklearn/build/model.tar.gz
    eval "$(.venv/bin/moorage credentials)"      # the server's key, for boto3
    .venv/bin/python examples/quickstart.py

(``.venv/bin/python``: the environment ``make serve`` installed boto3 into.)

This is the same code you would run against SageMaker, except for the
``endpoint_url`` and the ``file://`` model URL (an ``s3://`` URL works too,
with ``AWS_ENDPOINT_URL_S3`` pointing at MinIO or any S3-compatible store).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import boto3

URL = os.environ.get("MOORAGE_URL", "http://127.0.0.1:8484")
ARTIFACT = Path(__file__).resolve().parent / "sklearn" / "build" / "model.tar.gz"
# The server's key, as `eval "$(moorage credentials)"` exports it (or AWS_PROFILE
# after `moorage credentials --write-profile moorage`): boto3's usual lookup.
SESSION = boto3.Session()


def main() -> int:
    if not ARTIFACT.exists():
        build = Path(__file__).parent / "sklearn" / "build.py"
        print(f"build the model first: {sys.executable} {build}")
        return 1
    sm = SESSION.client("sagemaker", endpoint_url=URL)
    runtime = SESSION.client("sagemaker-runtime", endpoint_url=URL)
    name = "quickstart-iris"

    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
            "ModelDataUrl": ARTIFACT.as_uri(),
        },
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    print("waiting for the endpoint to be InService...")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )

    response = runtime.invoke_endpoint(
        EndpointName=name,
        ContentType="application/json",
        Body=json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}),
    )
    print("variant:", response["InvokedProductionVariant"])
    print("answer:", json.loads(response["Body"].read()))

    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)
    print("cleaned up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
