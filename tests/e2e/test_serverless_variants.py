"""Serverless variants (``ServerlessConfig``): served by a model server, described as AWS does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.archives import toolbox_archive
from support.endpoints import create_model, delete, wait_in_service
from support.names import unique

SMALL = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
LARGE = {"MemorySizeInMB": 4096, "MaxConcurrency": 10, "ProvisionedConcurrency": 2}


def _config(sm: Any, name: str, model: str, serverless: dict[str, int]) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "ServerlessConfig": serverless}
        ],
    )


def _tag(runtime: Any, endpoint: str) -> str:
    reply = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=b'{"op": "echo"}'
    )
    assert reply["InvokedProductionVariant"] == "AllTraffic"
    return str(json.loads(reply["Body"].read())["tag"])


def test_serverless_variant_serves_and_shows_its_config(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("serverless")
    create_model(esm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(esm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    _config(esm, f"{name}-c1", f"{name}-v1", SMALL)
    _config(esm, f"{name}-c2", f"{name}-v2", LARGE)
    esm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    wait_in_service(esm, name)
    assert _tag(runtime, name) == "v1"

    (summary,) = esm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert summary["CurrentServerlessConfig"] == SMALL
    # As AWS shows a serverless variant: no instances, nothing desired while nothing changes.
    assert summary["CurrentInstanceCount"] == 0
    assert "DesiredInstanceCount" not in summary
    assert "DesiredServerlessConfig" not in summary
    assert (summary["CurrentWeight"], summary["DesiredWeight"]) == (1.0, 1.0)

    esm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c2")
    updating = esm.describe_endpoint(EndpointName=name)
    assert updating["EndpointStatus"] == "Updating"
    (summary,) = updating["ProductionVariants"]
    assert summary["CurrentServerlessConfig"] == SMALL
    assert summary["DesiredServerlessConfig"] == LARGE
    (pending,) = updating["PendingDeploymentSummary"]["ProductionVariants"]
    assert pending["DesiredServerlessConfig"] == LARGE
    assert "InstanceType" not in pending and "DesiredInstanceCount" not in pending

    wait_in_service(esm, name)
    assert _tag(runtime, name) == "v2"
    (summary,) = esm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert summary["CurrentServerlessConfig"] == LARGE
    assert "DesiredServerlessConfig" not in summary
    assert summary["CurrentInstanceCount"] == 0
    delete(esm, name)
