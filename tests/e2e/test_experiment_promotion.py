"""Promoting a shadow under constant traffic: no failed request, the shadow's model serves after.

Eight clients invoke without pause from before the experiment starts until
after it completed with the shadow promoted. Starting the experiment and
promoting its shadow are both blue/green endpoint updates, so every request
must be answered; requests sent before the experiment are answered by v1,
requests sent after its completion by v2. The experiment's capture goes to
moto's S3, encrypted with the given KMS key.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.experiments import create_experiment, wait_experiment
from support.moto_s3 import MotoS3
from support.names import unique
from support.traffic import Traffic

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"


def test_promote_replaces_production_with_the_shadow_without_a_failed_request(
    esm: Any, runtime: Any, tmp_path: Path, moto_s3: MotoS3, s3_bucket: str
) -> None:
    name = unique("promote")
    create_model(esm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(esm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    esm.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[variant("Prod", f"{name}-v1", count=2)],
    )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(esm, name)

    with Traffic(runtime, name) as traffic:
        time.sleep(0.5)
        before = time.monotonic()
        create_experiment(
            esm,
            name,
            name,
            (f"{name}-v1", "Prod"),
            (f"{name}-v2", "Shadow"),
            100,
            count=2,
            DataStorageConfig={
                "Destination": f"s3://{s3_bucket}/shadow-test",
                "KmsKey": KMS_KEY,
                "ContentType": {"JsonContentTypes": ["application/json"]},
            },
        )
        wait_experiment(esm, name, "Running")
        time.sleep(1.0)
        esm.stop_inference_experiment(
            Name=name,
            ModelVariantActions={"Prod": "Remove", "Shadow": "Promote"},
            DesiredState="Completed",
        )
        seen: list[str] = []
        done = wait_experiment(esm, name, "Completed", seen=seen)
        after = time.monotonic()
        time.sleep(0.5)

    assert traffic.failures == []
    assert "Stopping" in seen
    assert traffic.tags_between(0, before) == {"v1"}
    assert traffic.tags_between(after, float("inf")) == {"v2"}
    statuses = {v["VariantName"]: v["Status"] for v in done["ModelVariants"]}
    assert statuses == {"Prod": "Deleted", "Shadow": "InService"}

    endpoint = esm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    assert "ShadowProductionVariants" not in endpoint
    (production,) = endpoint["ProductionVariants"]
    assert production["VariantName"] == "Prod"
    assert production["CurrentInstanceCount"] == 2
    config = esm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == f"{name}-v2"
    assert "promoted" in endpoint["EndpointConfigName"]

    # Both variants' pairs reached S3, encrypted with the experiment's key.
    keys: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = moto_s3.client.list_objects_v2(Bucket=s3_bucket, Prefix=f"shadow-test/{name}/")
        keys = [item["Key"] for item in listed.get("Contents", [])]
        if {k.split("/")[2] for k in keys} == {"Prod", "Shadow"}:
            break
        time.sleep(0.5)
    assert {k.split("/")[2] for k in keys} == {"Prod", "Shadow"}
    head = moto_s3.client.head_object(Bucket=s3_bucket, Key=keys[0])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == KMS_KEY
    delete(esm, name)
