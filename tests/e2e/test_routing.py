"""Traffic split by variant weights, TargetVariant, and copy choice within a variant."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.endpoints import create_endpoint, create_model, delete, variant, wait_in_service
from support.names import unique

REQUESTS = 400


def _invoke(runtime: Any, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType="application/json", Body='{"op": "echo"}', **extra
    )
    return answer["InvokedProductionVariant"], json.loads(answer["Body"].read())


def test_weights_split_traffic_and_target_variant_overrides(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("split")
    create_model(esm, f"{name}-a", toolbox_archive(tmp_path / "a.tar.gz", "A").as_uri())
    create_model(esm, f"{name}-b", toolbox_archive(tmp_path / "b.tar.gz", "B").as_uri())
    create_endpoint(
        esm,
        name,
        [variant("Three", f"{name}-a", weight=3.0), variant("One", f"{name}-b", weight=1.0)],
    )
    wait_in_service(esm, name)
    weights = {
        v["VariantName"]: v["CurrentWeight"]
        for v in esm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    }
    assert weights == {"Three": 3.0, "One": 1.0}

    seen: Counter[str] = Counter()
    for _ in range(REQUESTS):
        chosen, body = _invoke(runtime, name)
        assert body["tag"] == {"Three": "A", "One": "B"}[chosen]
        seen[chosen] += 1
    # Binomial(400, 0.75): five standard deviations either side of 300.
    bound = 5 * math.sqrt(REQUESTS * 0.75 * 0.25)
    assert abs(seen["Three"] - 300) <= bound, seen

    for _ in range(20):
        chosen, body = _invoke(runtime, name, TargetVariant="One")
        assert (chosen, body["tag"]) == ("One", "B")

    with pytest.raises(ClientError) as caught:
        _invoke(runtime, name, TargetVariant="Nope")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Nope" in caught.value.response["Error"]["Message"]
    delete(esm, name)


@pytest.mark.parametrize("strategy", ["LEAST_OUTSTANDING_REQUESTS", "RANDOM"])
def test_every_instance_of_a_variant_serves(
    esm: Any, runtime: Any, toolbox_url: str, strategy: str
) -> None:
    name = unique("spread")
    create_model(esm, name, toolbox_url)
    create_endpoint(
        esm,
        name,
        [variant("AllTraffic", name, count=2, RoutingConfig={"RoutingStrategy": strategy})],
    )
    wait_in_service(esm, name)
    assert (
        esm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["CurrentInstanceCount"]
        == 2
    )
    pids = {_invoke(runtime, name)[1]["pid"] for _ in range(60)}
    assert len(pids) == 2
    delete(esm, name)
