"""DataCacheConfig.EnableCaching: shared model files, or each copy's own.

A copy of a caching component uses the model directory and the installed
requirements that every copy of that model shares; a copy of a component
that does not cache (``EnableCaching`` false, or no ``DataCacheConfig``, as
on AWS) extracts the artifact and installs the requirements for itself, and
its files are deleted when it stops. How much faster a cached copy starts is
measured by ``bench/component_start.py``, not here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from support.archives import write_archive
from support.components import (
    component_endpoint,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import create_model, delete
from support.names import unique
from support.server import MoorageServer
from support.wheels import requirements_files

# Reports where its model files and its requirements came from.
WHERE = {
    "code/inference.py": """
        import os

        import tinydep


        def model_fn(model_dir):
            site = os.path.dirname(os.path.dirname(tinydep.__file__))
            return {"model_dir": model_dir, "site": site}


        def predict_fn(data, model):
            return {**model, "pid": os.getpid(), "value": tinydep.VALUE}
    """,
    **requirements_files(),
}


def _where(runtime: Any, endpoint: str, component: str) -> dict[int, tuple[str, str]]:
    """pid -> (model directory, requirements directory) of the copies that answered."""
    found: dict[int, tuple[str, str]] = {}
    for _ in range(40):
        reply = runtime.invoke_endpoint(
            EndpointName=endpoint,
            InferenceComponentName=component,
            ContentType="application/json",
            Body=b"{}",
        )
        body = json.loads(reply["Body"].read())
        assert body["value"] == 42
        found[body["pid"]] = (body["model_dir"], body["site"])
    return found


def test_copies_share_cached_files_or_prepare_their_own(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    cache = serving.data_dir / "cache"
    endpoint = unique("ic-cache")
    component_endpoint(esm, endpoint, instance_type="ml.m5.xlarge")
    model = unique("ic-cache-model")
    create_model(esm, model, write_archive(tmp_path / "where.tar.gz", WHERE).as_uri())
    cached, private = unique("ic-cached"), unique("ic-private")
    create_component(
        esm, cached, endpoint, model=model, copies=2, DataCacheConfig={"EnableCaching": True}
    )
    create_component(esm, private, endpoint, model=model, copies=2)
    wait_component(esm, cached)
    described = wait_component(esm, private)
    assert "DataCacheConfig" not in described["Specification"]

    shared = _where(runtime, endpoint, cached)
    assert len(shared) == 2
    ((model_dir, site),) = set(shared.values())
    assert Path(model_dir).parent == cache / "models"
    assert Path(site).parent == cache / "site"

    own = _where(runtime, endpoint, private)
    assert len(own) == 2
    dirs = {d for d, _ in own.values()}
    sites = {s for _, s in own.values()}
    assert len(dirs) == 2 and len(sites) == 2
    assert all(Path(d).parent == cache / "private" for d in dirs)
    assert all(Path(s).parent.parent == cache / "private" for s in sites)
    assert model_dir not in dirs and site not in sites

    # A copy that stops takes its files with it; the shared ones stay.
    esm.update_inference_component_runtime_config(
        InferenceComponentName=private, DesiredRuntimeConfig={"CopyCount": 1}
    )
    wait_component(esm, private)
    deadline = time.monotonic() + 30
    while sum(Path(d).exists() for d in dirs) != 1:
        assert time.monotonic() < deadline, "the stopped copy's files were not deleted"
        time.sleep(0.1)
    delete_component(esm, private)
    delete_component(esm, cached)
    deadline = time.monotonic() + 30
    while any(Path(p).exists() for p in (*dirs, *(str(Path(s).parent) for s in sites))):
        assert time.monotonic() < deadline, "private files outlived their copies"
        time.sleep(0.1)
    assert Path(model_dir).is_dir() and Path(site).is_dir()
    delete(esm, endpoint)
