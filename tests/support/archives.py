"""Model archives built on the fly: ``model.tar.gz`` files as SageMaker expects them."""

from __future__ import annotations

import io
import tarfile
import textwrap
from collections.abc import Mapping
from pathlib import Path


def write_archive(path: Path, files: Mapping[str, str | bytes]) -> Path:
    """A gzip'd tar at ``path`` holding ``files`` (archive name → content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            data = textwrap.dedent(content).encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def write_tar_slip(path: Path) -> Path:
    """An archive with a member that climbs out of the extraction directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


# A model whose behaviour each request chooses: {"op": "echo" | "fail" | "sleep" |
# "stream" | "stream-fail", ...}. It reports the process id, so tests can tell
# copies apart, and echoes custom attributes. A "stream" of n chunks reads
# chunk-0;chunk-1;... ({"tagged": true}: the model's tag instead of "chunk").
TOOLBOX = {
    "code/inference.py": """
        import json
        import os
        import time


        def model_fn(model_dir, context):
            with open(os.path.join(model_dir, "tag.txt")) as handle:
                return {"tag": handle.read().strip()}


        def input_fn(input_data, content_type, context):
            if content_type == "text/csv":
                return {"op": "echo", "rows": [line.split(",") for line in input_data.splitlines()]}
            return json.loads(input_data)


        def predict_fn(data, model, context):
            if context.custom_attributes:
                context.set_custom_attributes("seen:" + context.custom_attributes)
            op = data.get("op", "echo")
            if op == "fail":
                raise ValueError("the toolbox failed on purpose")
            if op == "sleep":
                time.sleep(float(data["seconds"]))
            if op == "stream":
                label = model["tag"] if data.get("tagged") else "chunk"
                return (f"{label}-{i};" for i in range(int(data.get("n", 5))))
            if op == "stream-fail":
                return _failing()
            return {"pid": os.getpid(), "tag": model["tag"], "data": data,
                    "env": os.environ.get("TOOLBOX_ENV")}


        def _failing():
            yield "first;"
            raise RuntimeError("stream broke on purpose")


        def output_fn(prediction, accept, context):
            if isinstance(prediction, dict):
                return json.dumps(prediction), "application/json"
            return prediction
    """,
}


def toolbox_archive(path: Path, tag: str = "toolbox") -> Path:
    return write_archive(path, {**TOOLBOX, "tag.txt": tag})


def failing_model_archive(path: Path) -> Path:
    return write_archive(
        path,
        {
            "code/inference.py": """
                def model_fn(model_dir):
                    raise ValueError("weights are corrupt")
            """
        },
    )
