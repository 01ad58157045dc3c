"""DeleteInferenceComponent then DeleteEndpoint at once, as notebooks' clean-up cells do.

Components already being deleted do not hold the endpoint: DeleteEndpoint is
accepted and the endpoint is gone once their copies have stopped; a
component that is not being deleted still holds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import create_model
from support.names import unique
from support.processes import wait_dead


def _pid(runtime: Any, endpoint: str, component: str) -> int:
    reply = runtime.invoke_endpoint(
        EndpointName=endpoint,
        InferenceComponentName=component,
        ContentType="application/json",
        Body=json.dumps({"op": "echo"}),
    )
    return int(json.loads(reply["Body"].read())["pid"])


def _components_on(sm: Any, endpoint: str) -> list[str]:
    listed = sm.list_inference_components(EndpointNameEquals=endpoint, MaxResults=100)
    return sorted(c["InferenceComponentName"] for c in listed["InferenceComponents"])


def test_endpoint_deleted_right_after_its_components(
    esm: Any, runtime: Any, tmp_path: Path
) -> None:
    endpoint = unique("ic-cleanup")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    model = unique("ic-cleanup-model")
    create_model(esm, model, toolbox_archive(tmp_path / "m.tar.gz", "M").as_uri())
    first, second = unique("ic-cleanup-a"), unique("ic-cleanup-b")
    for name in (first, second):
        create_component(esm, name, endpoint, model=model, copies=1)
    for name in (first, second):
        wait_component(esm, name)
    pids = {_pid(runtime, endpoint, first), _pid(runtime, endpoint, second)}

    # One component deleted, the other still deployed: the endpoint is held.
    esm.delete_inference_component(InferenceComponentName=first)
    with pytest.raises(ClientError) as caught:
        esm.delete_endpoint(EndpointName=endpoint)
    message = caught.value.response["Error"]["Message"]
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message.endswith(
        f"because inference components are deployed to it: {second}. "
        "Delete the inference components first."
    )
    assert esm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"

    # Both deleted, the endpoint right after, with no wait in between.
    esm.delete_inference_component(InferenceComponentName=second)
    esm.delete_endpoint(EndpointName=endpoint)
    esm.get_waiter("endpoint_deleted").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )
    assert _components_on(esm, endpoint) == []
    for name in (first, second):
        with pytest.raises(ClientError) as gone:
            esm.describe_inference_component(InferenceComponentName=name)
        assert "Could not find inference component" in gone.value.response["Error"]["Message"]
    assert wait_dead(pids) == set()

    # Nothing of the old endpoint is left behind: the names can be used again.
    esm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    esm.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )
    create_component(esm, first, endpoint, model=model, copies=1)
    described = wait_component(esm, first)
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 1, "CurrentCopyCount": 1}
    assert _pid(runtime, endpoint, first) not in pids
    esm.delete_inference_component(InferenceComponentName=first)
    esm.delete_endpoint(EndpointName=endpoint)
    esm.get_waiter("endpoint_deleted").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )
    assert _components_on(esm, endpoint) == []
