"""Rolling updates of inference components under constant traffic, with 1 s bakes.

Each test serves v1 from four copies, keeps eight clients invoking the
component without pause, and updates it to v2 with a ``DeploymentConfig``:
every request must be answered 2xx, whether the update completes or an
alarm on the component's own CloudWatch metrics rolls it back.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from support.archives import write_archive
from support.components import (
    component_endpoint,
    compute,
    create_component,
    delete_component,
    wait_component,
)
from support.endpoints import create_model, delete
from support.names import unique
from support.server import MoorageServer
from support.traffic import Traffic

# A model that answers with its tag, after sleeping for its delay.
TAGGED = {
    "code/inference.py": """
        import json
        import os
        import time


        def model_fn(model_dir):
            def read(name):
                with open(os.path.join(model_dir, name)) as handle:
                    return handle.read().strip()

            return {"tag": read("tag.txt"), "delay": float(read("delay.txt"))}


        def predict_fn(data, model):
            time.sleep(model["delay"])
            return {"tag": model["tag"], "pid": os.getpid()}
    """
}

COPIES = 4


def _models(sm: Any, tmp_path: Path, name: str, *, v2_delay: float = 0.0) -> None:
    for tag, delay in (("v1", 0.0), ("v2", v2_delay)):
        files = {**TAGGED, "tag.txt": tag, "delay.txt": str(delay)}
        url = write_archive(tmp_path / f"{tag}.tar.gz", files).as_uri()
        create_model(sm, f"{name}-{tag}", url)


def _spec(model: str) -> dict[str, Any]:
    return {
        "ModelName": model,
        "ComputeResourceRequirements": compute(1, 1024),
    }


class PlacementWatch:
    """Polls the placement page: the most copies of a component placed at once, per generation."""

    def __init__(self, server: MoorageServer, endpoint: str, component: str) -> None:
        self.url = f"{server.url}/moorage/placement/{endpoint}"
        self.component = component
        self.most = 0
        self.seen: set[tuple[int, ...]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with urllib.request.urlopen(self.url) as response:
                doc = json.loads(response.read())
            generations = [
                v["generations"][c["copy_id"]]
                for v in doc["variants"]
                for i in v["instances"]
                for c in i["copies"]
                if c["component"] == self.component
            ]
            self.most = max(self.most, len(generations))
            self.seen.add(tuple(sorted(generations)))
            time.sleep(0.05)

    def __enter__(self) -> PlacementWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _wait_done(sm: Any, name: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sm.describe_inference_component(InferenceComponentName=name)
        if described["InferenceComponentStatus"] != "Updating":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{name} is still updating")


def test_a_rolling_update_replaces_copies_in_batches_without_failing_a_request(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    endpoint, name = unique("icr-ep"), unique("icr")
    component_endpoint(esm, endpoint, instance_type="ml.m5.2xlarge")  # 8 vCPUs
    _models(esm, tmp_path, name)
    create_component(esm, name, endpoint, model=f"{name}-v1", copies=COPIES, cpus=1)
    wait_component(esm, name)
    config = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 1,
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }
    with (
        Traffic(runtime, endpoint, InferenceComponentName=name) as traffic,
        PlacementWatch(serving, endpoint, name) as watch,
    ):
        time.sleep(0.5)
        before = time.monotonic()
        esm.update_inference_component(
            InferenceComponentName=name,
            Specification=_spec(f"{name}-v2"),
            RuntimeConfig={"CopyCount": COPIES},
            DeploymentConfig=config,
        )
        described = esm.describe_inference_component(InferenceComponentName=name)
        assert described["InferenceComponentStatus"] == "Updating"
        final = _wait_done(esm, name)
        after = time.monotonic()
        time.sleep(0.5)
    assert traffic.failures == []
    assert final["InferenceComponentStatus"] == "InService", final.get("FailureReason")
    assert final.get("FailureReason") is None
    assert final["Specification"]["ModelName"] == f"{name}-v2"
    assert final["RuntimeConfig"] == {"DesiredCopyCount": COPIES, "CurrentCopyCount": COPIES}
    assert final["LastDeploymentConfig"] == config
    assert traffic.tags_between(0, before) == {"v1"}
    assert traffic.tags_between(after, float("inf")) == {"v2"}
    # Both versions answered while the copies rolled over, one batch at a time.
    middle = [a.tag for a in traffic.answers if before < a.started and a.finished < after]
    assert {"v1", "v2"} <= set(middle)
    assert watch.most == COPIES + 1
    assert {(1, 1, 1, 1, 2), (1, 1, 2, 2, 2)} <= watch.seen
    delete_component(esm, name)
    delete(esm, endpoint)
