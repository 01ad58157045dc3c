"""Rolling updates of inference components: versioned models, watching the placement page."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from support.archives import write_archive
from support.components import compute
from support.endpoints import create_model
from support.raw import request
from support.server import MoorageServer

# A model that answers with its tag and process id, after sleeping for its delay;
# {"op": "fail"} makes it raise.
TAGGED = {
    "code/inference.py": """
        import os
        import time


        def model_fn(model_dir):
            def read(name):
                with open(os.path.join(model_dir, name)) as handle:
                    return handle.read().strip()

            return {"tag": read("tag.txt"), "delay": float(read("delay.txt"))}


        def predict_fn(data, model):
            if data.get("op") == "fail":
                raise ValueError("failed on purpose")
            time.sleep(model["delay"])
            return {"tag": model["tag"], "pid": os.getpid()}
    """
}


def tagged_models(sm: Any, tmp_path: Path, name: str, *, v2_delay: float = 0.0) -> None:
    """Models ``{name}-v1`` and ``{name}-v2``, answering with tags v1 and v2."""
    for tag, delay in (("v1", 0.0), ("v2", v2_delay)):
        files = {**TAGGED, "tag.txt": tag, "delay.txt": str(delay)}
        url = write_archive(tmp_path / f"{name}-{tag}.tar.gz", files).as_uri()
        create_model(sm, f"{name}-{tag}", url)


def spec(model: str, cpus: float = 1) -> dict[str, Any]:
    return {"ModelName": model, "ComputeResourceRequirements": compute(cpus, 1024)}


def wait_update_done(sm: Any, name: str, timeout: float = 60.0) -> dict[str, Any]:
    """Describe ``name`` until it is no longer ``Updating``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sm.describe_inference_component(InferenceComponentName=name)
        if described["InferenceComponentStatus"] != "Updating":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{name} is still updating")


def placement_page(server: MoorageServer, endpoint: str) -> Any:
    reply = request(server.url, "GET", f"/moorage/placement/{endpoint}")
    assert reply.status == 200, reply.body
    return reply.json()


def rolling_update(server: MoorageServer, endpoint: str, name: str) -> Any:
    """The placement page's view of the component's rolling update (step, phase), or None."""
    page = placement_page(server, endpoint)
    (component,) = [c for c in page["components"] if c["name"] == name]
    return component["rolling_update"]


def wait_step(
    server: MoorageServer, endpoint: str, name: str, part: str, timeout: float = 60.0
) -> Any:
    """Wait until the rolling update bakes in a step whose name contains ``part``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        update = rolling_update(server, endpoint, name)
        if update and part in update["step"] and update["phase"] == "waiting":
            return update
        time.sleep(0.05)
    raise AssertionError(f"{name} never baked in a step like {part!r}")


class PlacementWatch:
    """Polls the placement page: the most copies of a component placed at once, per generation."""

    def __init__(self, server: MoorageServer, endpoint: str, component: str) -> None:
        self.server = server
        self.endpoint = endpoint
        self.component = component
        self.most = 0
        self.seen: set[tuple[int, ...]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            page = placement_page(self.server, self.endpoint)
            generations = [
                v["generations"][c["copy_id"]]
                for v in page["variants"]
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
