"""A running inference component updated with its resources alone (the SDK's update_predictor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.archives import toolbox_archive
from support.components import (
    component_endpoint,
    compute,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import create_model, delete
from support.names import unique
from support.processes import wait_dead


def _answer(runtime: Any, endpoint: str, component: str) -> dict[str, Any]:
    reply = runtime.invoke_endpoint(
        EndpointName=endpoint,
        InferenceComponentName=component,
        ContentType="application/json",
        Body=json.dumps({"op": "echo"}),
    )
    answer: dict[str, Any] = json.loads(reply["Body"].read())
    return answer


def test_new_resources_restart_the_copy_with_the_same_model(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    endpoint = unique("ic-resize")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    model = unique("ic-resize-model")
    create_model(esm, model, toolbox_archive(tmp_path / "a.tar.gz", "A").as_uri())
    name = unique("ic-resize")
    create_component(esm, name, endpoint, model=model, copies=1, cpus=2, memory=4096)
    wait_component(esm, name)
    first = _answer(runtime, endpoint, name)
    assert first["tag"] == "A"

    esm.update_inference_component(
        InferenceComponentName=name,
        Specification={"ComputeResourceRequirements": compute(1, 2048)},
    )
    described = wait_component(esm, name, timeout=90)
    assert "FailureReason" not in described
    assert described["Specification"]["ModelName"] == model
    assert described["Specification"]["ComputeResourceRequirements"] == compute(1, 2048)
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 1, "CurrentCopyCount": 1}
    second = _answer(runtime, endpoint, name)
    # A new copy of the same model, sized anew; the old one stopped.
    assert second["tag"] == "A"
    assert second["pid"] != first["pid"]
    assert wait_dead({first["pid"]}) == set()

    delete_component(esm, name)
    delete(esm, endpoint)
