"""Adapter inference components: a LoRA-style delta loaded into every copy of its base."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.components import component_endpoint, delete_component, wait_component
from support.endpoints import IMAGE, delete
from support.names import unique

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lora"
INPUTS = [1.0, 2.0, 3.0, 4.0]
BASE_ANSWER = [3.0, 3.5, 11.0]  # W x
ADAPTED_ANSWER = [8.0, 3.5, 1.0]  # (W + alpha/r B A) x


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("lora")
    subprocess.run([sys.executable, str(EXAMPLE / "build.py"), str(out)], check=True)
    return (out / "base.tar.gz").as_uri(), (out / "adapter.tar.gz").as_uri()


def ask(runtime: Any, endpoint: str, component: str) -> dict[str, Any]:
    reply = runtime.invoke_endpoint(
        EndpointName=endpoint,
        InferenceComponentName=component,
        ContentType="application/json",
        Body=json.dumps({"inputs": INPUTS}),
    )
    answer: dict[str, Any] = json.loads(reply["Body"].read())
    return answer


def test_the_example_computes_what_the_test_expects() -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        from build import expected  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLE))
    assert expected(INPUTS, False) == BASE_ANSWER
    assert expected(INPUTS, True) == ADAPTED_ANSWER


def test_an_adapter_is_served_by_every_copy_of_its_base(
    esm: Any, runtime: Any, archives: tuple[str, str], tmp_path: Path
) -> None:
    base_url, adapter_url = archives
    endpoint = unique("ic-lora")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    base, adapter = unique("ic-lora-base"), unique("ic-lora")
    esm.create_inference_component(
        InferenceComponentName=base,
        EndpointName=endpoint,
        Specification={
            "Container": {"Image": IMAGE, "ArtifactUrl": base_url},
            "ComputeResourceRequirements": {
                "NumberOfCpuCoresRequired": 1,
                "MinMemoryRequiredInMb": 1024,
            },
        },
        RuntimeConfig={"CopyCount": 2},
    )
    wait_component(esm, base)
    esm.create_inference_component(
        InferenceComponentName=adapter,
        EndpointName=endpoint,
        Specification={
            "BaseInferenceComponentName": base,
            "Container": {"ArtifactUrl": adapter_url},
        },
    )
    wait_component(esm, adapter)
    assert ask(runtime, endpoint, base) == {"outputs": BASE_ANSWER, "adapter": None}
    for _ in range(10):
        assert ask(runtime, endpoint, adapter) == {"outputs": ADAPTED_ANSWER, "adapter": adapter}

    # A new copy of the base gets the adapter before the base is InService again.
    esm.update_inference_component_runtime_config(
        InferenceComponentName=base, DesiredRuntimeConfig={"CopyCount": 3}
    )
    wait_component(esm, base)
    for _ in range(30):
        assert ask(runtime, endpoint, adapter)["outputs"] == ADAPTED_ANSWER

    # A new adapter artifact is loaded beside the old one, then traffic moves to it.
    moved = tmp_path / "adapter-v2.tar.gz"
    shutil.copy(adapter_url.removeprefix("file://"), moved)
    esm.update_inference_component(
        InferenceComponentName=adapter,
        Specification={
            "BaseInferenceComponentName": base,
            "Container": {"ArtifactUrl": moved.as_uri()},
        },
    )
    described = wait_component(esm, adapter)
    assert described["Specification"]["Container"]["ArtifactUrl"] == moved.as_uri()
    assert ask(runtime, endpoint, adapter) == {
        "outputs": ADAPTED_ANSWER,
        "adapter": f"{adapter}.v2",
    }

    with pytest.raises(ClientError) as caught:
        esm.delete_inference_component(InferenceComponentName=base)
    assert "adapter inference components use it as their base" in str(caught.value)
    delete_component(esm, adapter)
    with pytest.raises(ClientError):
        ask(runtime, endpoint, adapter)
    assert ask(runtime, endpoint, base)["outputs"] == BASE_ANSWER
    delete_component(esm, base)
    delete(esm, endpoint)
